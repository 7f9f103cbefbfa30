package main

import (
	"fmt"
	"strings"
	"testing"
)

func TestDeltasProbeWritesNumberedStreamEvents(t *testing.T) {
	tests := map[string]struct {
		size      string
		lineBytes int // with the newline
	}{
		"smallest": {size: "200", lineBytes: 254}, // below the smallest well-formed event: not padded
		"padded":   {size: "1k", lineBytes: 1024},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			out, _, code := newProc(t).run("PROBE deltas 25 "+tc.size, streamArgs...)
			lines := parseLines(t, out)
			checkTurn(t, lines)
			f := probeResults(t, lines)
			if code != 0 || len(f) != 1 || f[0]["ok"] != true || f[0]["events"] != float64(25) || f[0]["line_bytes"] != float64(tc.lineBytes) {
				t.Fatalf("exit %d, findings %v", code, f)
			}
			n, uuids := 0, map[string]bool{}
			for _, raw := range strings.Split(out, "\n") {
				if !strings.Contains(raw, `"stream_event"`) {
					continue
				}
				n++
				if len(raw)+1 != tc.lineBytes || !strings.Contains(raw, fmt.Sprintf(`"text":"event %010d `, n)) {
					t.Fatalf("delta %d: %d bytes: %.200s", n, len(raw)+1, raw)
				}
			}
			for _, l := range lines {
				if l["type"] != "stream_event" {
					continue
				}
				ev, _ := l["event"].(map[string]any)
				delta, _ := ev["delta"].(map[string]any)
				if ev["type"] != "content_block_delta" || delta["type"] != "text_delta" || l["session_id"] == "" {
					t.Fatalf("not a text delta: %v", l)
				}
				uuids[l["uuid"].(string)] = true
			}
			if n != 25 || len(uuids) != 25 {
				t.Fatalf("%d deltas, %d distinct uuids, want 25", n, len(uuids))
			}
		})
	}
}
