package relay

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

func TestRules(t *testing.T) {
	rs, err := parseRules([]string{"github.com", "*.npmjs.org", "Registry.Example.COM.", "ssh.example.org:22", "*.git.example.net:8443"})
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]bool{
		"github.com": true, "GitHub.com.": true, "api.github.com": false, "evilgithub.com": false,
		"registry.npmjs.org": true, "a.b.npmjs.org": true, "npmjs.org": false, "npmjs.org.evil.com": false, "xnpmjs.org": false,
		"registry.example.com": true, "": false, "10.0.0.1": false,
	} {
		if got := rs.allows(host, 443); got != want {
			t.Errorf("allows(%q) = %v, want %v", host, got, want)
		}
	}
	for hostport, want := range map[string]string{
		"github.com:80": "", "github.com:443": "", "github.com:22": reasonPortNotAllowed, "github.com:8080": reasonPortNotAllowed,
		"registry.npmjs.org:80": "", "registry.npmjs.org:22": reasonPortNotAllowed,
		"ssh.example.org:22": "", "ssh.example.org:443": reasonPortNotAllowed, "ssh.example.org:80": reasonPortNotAllowed,
		"a.git.example.net:8443": "", "a.git.example.net:443": reasonPortNotAllowed, "git.example.net:8443": reasonHostNotAllowed,
		"example.com:443": reasonHostNotAllowed,
	} {
		host, port, _ := strings.Cut(hostport, ":")
		p, _ := strconv.Atoi(port)
		if got := rs.check(host, p); got != want {
			t.Errorf("check(%s) = %q, want %q", hostport, got, want)
		}
	}
	for _, bad := range []string{"*", "a.*.com", "http://x.com", "x.com:0", "x.com:65536", "x.com:ssh", "x.com:", "*x.com", "x.com:22:22", "[::1]:443", "user@x.com"} {
		if _, err := parseRules([]string{bad}); err == nil {
			t.Errorf("rule %q accepted", bad)
		}
	}
	if rs, _ := parseRules(nil); !rs.empty() || rs.allows("github.com", 443) {
		t.Error("no rules allow something")
	}
}

func TestPublicAddr(t *testing.T) {
	for addr, want := range map[string]bool{
		"93.184.215.14": true, "8.8.8.8": true, "2606:4700:4700::1111": true, "64:ff9b::808:808": true,
		"127.0.0.1": false, "127.1.2.3": false, "::1": false, "0.0.0.0": false, "::": false,
		"10.0.0.1": false, "172.16.0.1": false, "172.17.0.1": false, "192.168.1.1": false, "fd00::2": false, "fc00::1": false,
		"169.254.169.254": false, "fe80::1": false, "100.64.0.1": false, "100.127.255.254": false,
		"224.0.0.1": false, "239.255.255.250": false, "ff02::1": false, "255.255.255.255": false, "240.0.0.1": false,
		"192.0.2.2": false, "198.51.100.1": false, "203.0.113.9": false, "198.18.0.1": false, "2001:db8::1": false,
		"::ffff:10.0.0.1": false, "::ffff:169.254.169.254": false, "::ffff:8.8.8.8": true,
		"64:ff9b::a00:1": false, "64:ff9b::a9fe:a9fe": false, "2002:a00:1::1": false, "2001::1": false, "fec0::1": false,
	} {
		if got := publicAddr(netip.MustParseAddr(addr)); got != want {
			t.Errorf("publicAddr(%s) = %v, want %v", addr, got, want)
		}
	}
}
