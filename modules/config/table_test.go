package config

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
)

// The README's configuration table is this package's table: regenerate it with
// `UPDATE_README=1 go test ./modules/config -run TestReadmeTable` when a setting changes.
func TestReadmeTable(t *testing.T) {
	var buf bytes.Buffer
	WriteMarkdownTable(&buf)
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- settings:begin -->\n", "<!-- settings:end -->"
	i, j := bytes.Index(readme, []byte(begin)), bytes.Index(readme, []byte(end))
	if i < 0 || j < i {
		t.Fatal("README.md lacks the settings markers")
	}
	if os.Getenv("UPDATE_README") != "" {
		updated := append(append(append([]byte{}, readme[:i+len(begin)]...), buf.Bytes()...), readme[j:]...)
		if err := os.WriteFile("../../README.md", updated, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got := string(readme[i+len(begin) : j]); got != buf.String() {
		t.Errorf("README.md's configuration table is stale; run: UPDATE_README=1 go test ./modules/config -run TestReadmeTable\n%s", diffLine(got, buf.String()))
	}
}

func diffLine(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range max(len(g), len(w)) {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("first difference at table line %d:\n  README: %s\n  want:   %s", i+1, gl, wl)
		}
	}
	return ""
}
