package config

import (
	"fmt"
	"strings"
)

// Masked is what a secret setting shows in String(), `validate` and logs.
const Masked = "******"

// String writes the effective configuration, one "key = value" line per setting,
// with every secret masked. It is safe to log.
func (c *Config) String() string {
	var b strings.Builder
	for _, s := range settings {
		name := s.key
		if name == "" {
			name = s.flag
		}
		fmt.Fprintf(&b, "%-22s = %s\n", name, displayValue(s, c))
	}
	return b.String()
}

func displayValue(s setting, c *Config) string {
	v := s.bind(c).String()
	switch {
	case s.secret && v != "":
		return Masked
	case v == "":
		return "(unset)"
	}
	return v
}
