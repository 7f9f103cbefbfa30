package relay

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// defaultPorts are the ports a rule without one allows: HTTPS and HTTP.
var defaultPorts = []int{443, 80}

// rules is the egress allowlist: exact host names and *.suffix rules, each
// with an optional port (github.com:443, *.npmjs.org); a rule without a port
// allows 443 and 80 only.
type rules struct {
	list []rule
}

type rule struct {
	host   string // "github.com", or ".npmjs.org" for "*.npmjs.org"
	suffix bool
	ports  []int
}

func parseRules(list []string) (rules, error) {
	var rs rules
	for _, raw := range list {
		r, err := parseRule(raw)
		if err != nil {
			return rules{}, err
		}
		rs.list = append(rs.list, r)
	}
	return rs, nil
}

func parseRule(raw string) (rule, error) {
	host := normalizeHost(raw)
	r := rule{ports: defaultPorts}
	if h, p, ok := strings.Cut(host, ":"); ok {
		port, err := strconv.Atoi(p)
		if err != nil || port < 1 || port > 65535 || strings.HasPrefix(p, "+") {
			return rule{}, fmt.Errorf("egress rule %q: the port must be a number from 1 to 65535", raw)
		}
		host, r.ports = strings.TrimSuffix(h, "."), []int{port}
	}
	switch {
	case host == "" || host == "*" || strings.ContainsAny(host, "/:@[]"):
		return rule{}, fmt.Errorf("egress rule %q is not a host name or *.suffix, with an optional :port", raw)
	case strings.HasPrefix(host, "*."):
		r.host, r.suffix = host[1:], true
	case strings.Contains(host, "*"):
		return rule{}, fmt.Errorf("egress rule %q: only a leading *. is allowed", raw)
	default:
		r.host = host
	}
	return r, nil
}

func (rs rules) empty() bool { return len(rs.list) == 0 }

// Reasons a destination is refused, in egress_refused events.
const (
	reasonHostNotAllowed = "host_not_allowed"
	reasonPortNotAllowed = "port_not_allowed"
	reasonPrivateAddress = "private_address"
	reasonBadRequest     = "bad_request"
)

// check says why a host and port may not be reached ("" when they may): an
// exact rule or a proper subdomain of a *.suffix rule ("*.example.com" does
// not allow example.com), on one of the rule's ports.
func (rs rules) check(host string, port int) string {
	h := normalizeHost(host)
	if h == "" {
		return reasonHostNotAllowed
	}
	reason := reasonHostNotAllowed
	for _, r := range rs.list {
		if r.matches(h) {
			if slices.Contains(r.ports, port) {
				return ""
			}
			reason = reasonPortNotAllowed
		}
	}
	return reason
}

// allows says whether a host may be reached on a port.
func (rs rules) allows(host string, port int) bool { return rs.check(host, port) == "" }

func (r rule) matches(h string) bool {
	if r.suffix {
		return strings.HasSuffix(h, r.host) && len(h) > len(r.host)
	}
	return h == r.host
}

// normalizeHost lower-cases a host name and drops a trailing dot.
func normalizeHost(h string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), ".")
}
