package config

import (
	"fmt"
	"io"
	"strings"
)

// WriteHelp prints every setting, grouped, with its flag, environment variable
// and default: the settings part of --help.
func WriteHelp(w io.Writer) {
	defaults := Defaults()
	for _, group := range groupOrder {
		fmt.Fprintf(w, "\n%s:\n", group)
		for _, s := range settings {
			if s.group != group {
				continue
			}
			fmt.Fprintf(w, "  %-36s %s\n", helpName(s), helpText(s, defaults))
		}
	}
}

func helpName(s setting) string {
	if s.flag == "" {
		return s.env
	}
	name := "    --" + s.flag
	if s.short != "" {
		name = "-" + s.short + ", --" + s.flag
	}
	if s.arg != "" {
		name += " " + s.arg
	}
	return name
}

func helpText(s setting, defaults *Config) string {
	text := s.usage
	if s.flag != "" {
		text += " [env " + s.env + "]"
	} else {
		text += " [env only]"
	}
	if def := s.bind(defaults).String(); def != "" && def != "false" && !s.secret && !strings.Contains(s.usage, "(default") {
		text += " (default " + def + ")"
	}
	return text
}
