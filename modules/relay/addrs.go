package relay

import (
	"context"
	"net"
	"net/netip"
)

// refusedPrefixes are the ranges beyond what netip classifies that no egress
// may reach: shared and reserved IPv4 space, documentation, benchmarking and
// transition prefixes that embed an IPv4 address the check cannot see.
var refusedPrefixes = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8",       // "this network"
		"100.64.0.0/10",   // CGNAT shared address space
		"192.0.0.0/24",    // IETF protocol assignments
		"192.0.2.0/24",    // TEST-NET-1
		"198.18.0.0/15",   // benchmarking
		"198.51.100.0/24", // TEST-NET-2
		"203.0.113.0/24",  // TEST-NET-3
		"240.0.0.0/4",     // reserved, and 255.255.255.255
		"100::/64",        // discard-only
		"2001::/32",       // Teredo (embeds IPv4)
		"2001:db8::/32",   // documentation
		"2002::/16",       // 6to4 (embeds IPv4)
		"64:ff9b:1::/48",  // local-use NAT64
		"fec0::/10",       // deprecated site-local
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// nat64 is the well-known NAT64 prefix: its addresses are checked as the
// IPv4 address they carry.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// publicAddr says whether an address may be dialled by the egress proxy: not
// private, loopback, link-local (169.254.169.254 included), CGNAT, multicast,
// unspecified or reserved, in IPv4 or IPv6 (IPv4-mapped included).
func publicAddr(a netip.Addr) bool {
	a = a.Unmap()
	if a.Is6() && nat64.Contains(a) {
		b := a.As16()
		a = netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
	}
	if !a.IsValid() || a.IsUnspecified() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() ||
		a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.Zone() != "" {
		return false
	}
	for _, p := range refusedPrefixes {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// systemResolve looks a host up with the runner's resolver (dialChecked
// handles IP literals before resolving).
func systemResolve(ctx context.Context, host string) ([]netip.Addr, error) {
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}
