package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// shFindings runs one `PROBE sh` turn of the agent and returns the probe's findings.
func shFindings(t *testing.T, p *proc, command string) map[string]any {
	t.Helper()
	out, stderr, code := p.run("PROBE sh "+command, streamArgs...)
	if code != 0 {
		t.Fatalf("agent exit %d: %s", code, stderr)
	}
	for _, l := range parseLines(t, out) {
		msg, _ := l["message"].(map[string]any)
		blocks, _ := msg["content"].([]any)
		for _, b := range blocks {
			block, _ := b.(map[string]any)
			if block["type"] != "tool_result" {
				continue
			}
			var f map[string]any
			if err := json.Unmarshal([]byte(block["content"].(string)), &f); err != nil {
				t.Fatalf("tool result is not JSON: %v", err)
			}
			if f["ok"] != !block["is_error"].(bool) {
				t.Errorf("is_error %v does not mirror ok %v", block["is_error"], f["ok"])
			}
			return f
		}
	}
	t.Fatalf("no tool result in:\n%s", out)
	return nil
}

func TestShProbe(t *testing.T) {
	p := newProc(t)
	tests := map[string]struct {
		command string
		check   func(f map[string]any) bool
	}{
		"runs in the cwd with both streams": {"pwd; echo out; echo err >&2",
			func(f map[string]any) bool {
				return f["ok"] == true && f["exit"] == float64(0) && f["stdout"] == p.dir+"\nout\n" &&
					f["stderr"] == "err\n" && f["truncated"] == false
			}},
		"a failing command is not ok, with its code": {"echo partial; exit 3",
			func(f map[string]any) bool {
				return f["ok"] == false && f["exit"] == float64(3) && f["stdout"] == "partial\n" &&
					strings.Contains(f["error"].(string), "exit status 3")
			}},
		"output is bounded": {"head -c 200000 /dev/zero | tr '\\0' x",
			func(f map[string]any) bool {
				return f["ok"] == true && len(f["stdout"].(string)) == maxShOutput && f["truncated"] == true
			}},
		"no command": {"",
			func(f map[string]any) bool { return f["ok"] == false && strings.Contains(f["error"].(string), "usage") }},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if f := shFindings(t, p, tc.command); !tc.check(f) {
				t.Errorf("PROBE sh %s: findings %v", tc.command, f)
			}
		})
	}
}
