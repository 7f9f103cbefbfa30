package config

import (
	"fmt"
	"strconv"
	"strings"
)

// checkEgressRule checks one sandbox.egressAllow rule: a host name or
// *.suffix, with an optional :port from 1 to 65535 (github.com:443,
// *.npmjs.org). A rule without a port allows 443 and 80 only.
func checkEgressRule(rule string) error {
	host, port, hasPort := strings.Cut(rule, ":")
	if !hostRule.MatchString(host) || strings.ContainsAny(port, "/@[]:") {
		return fmt.Errorf("%q is not a host name or *.suffix with an optional :port", rule)
	}
	if hasPort {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || strings.HasPrefix(port, "+") {
			return fmt.Errorf("%q: the port must be a number from 1 to 65535", rule)
		}
	}
	return nil
}

// ProblemOf is a problem with the setting of config key, for checks made
// outside this package (the model prices file, read by the relay).
func ProblemOf(key, format string, args ...any) Problem {
	v := validator{}
	v.fail(key, format, args...)
	return v.problems[0]
}
