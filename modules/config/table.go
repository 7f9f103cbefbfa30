package config

import (
	"fmt"
	"io"
	"strings"
)

// WriteMarkdownTable prints the settings as the README's configuration table.
func WriteMarkdownTable(w io.Writer) {
	defaults := Defaults()
	fmt.Fprintln(w, "| flag | env | config key | default | meaning |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, group := range groupOrder {
		for _, s := range settings {
			if s.group != group {
				continue
			}
			flag := "—"
			if s.flag != "" {
				flag = "`--" + s.flag
				if s.short != "" {
					flag = "`-" + s.short + ", --" + s.flag
				}
				if s.arg != "" {
					flag += " " + s.arg
				}
				flag += "`"
			}
			key := "—"
			if s.key != "" {
				key = "`" + s.key + "`"
			}
			def := s.bind(defaults).String()
			switch {
			case s.flag == "runner-id":
				def = "host name"
			case def == "" || def == "false":
				def = "—"
			default:
				def = "`" + def + "`"
			}
			usage := strings.TrimSuffix(s.usage, " (default: host name)")
			usage = strings.TrimSuffix(usage, " (default: engine default)")
			fmt.Fprintf(w, "| %s | `%s` | %s | %s | %s |\n", flag, s.env, key, def, usage)
		}
	}
}
