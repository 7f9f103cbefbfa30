package relay

import (
	"fmt"
	"strings"
)

// rules is the egress allowlist: exact host names and *.suffix rules.
type rules struct {
	exact    map[string]bool
	suffixes []string // ".example.com" for "*.example.com"
}

func parseRules(list []string) (rules, error) {
	rs := rules{exact: map[string]bool{}}
	for _, raw := range list {
		rule := normalizeHost(raw)
		switch {
		case rule == "" || rule == "*" || strings.Contains(rule, "/") || strings.Contains(rule, ":"):
			return rules{}, fmt.Errorf("egress rule %q is not a host name or *.suffix", raw)
		case strings.HasPrefix(rule, "*."):
			rs.suffixes = append(rs.suffixes, rule[1:])
		case strings.Contains(rule, "*"):
			return rules{}, fmt.Errorf("egress rule %q: only a leading *. is allowed", raw)
		default:
			rs.exact[rule] = true
		}
	}
	return rs, nil
}

func (rs rules) empty() bool { return len(rs.exact) == 0 && len(rs.suffixes) == 0 }

// allows says whether a host may be reached: an exact rule, or a proper
// subdomain of a *.suffix rule ("*.example.com" does not allow example.com).
func (rs rules) allows(host string) bool {
	h := normalizeHost(host)
	if h == "" {
		return false
	}
	if rs.exact[h] {
		return true
	}
	for _, s := range rs.suffixes {
		if strings.HasSuffix(h, s) && len(h) > len(s) {
			return true
		}
	}
	return false
}

// normalizeHost lower-cases a host name and drops a trailing dot.
func normalizeHost(h string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), ".")
}
