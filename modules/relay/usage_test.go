package relay

import (
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// The usage is read whatever the chunking, and the body passes unchanged.
func TestUsageReader(t *testing.T) {
	stream := strings.Join(sseEvents, "") + "data: " + strings.Repeat("x", maxSSELine+10) + ` "usage"` + "\n\n"
	for name, r := range map[string]io.Reader{
		"whole":        strings.NewReader(stream),
		"byte by byte": iotest.OneByteReader(strings.NewReader(stream)),
		"half":         iotest.HalfReader(strings.NewReader(stream)),
	} {
		t.Run(name, func(t *testing.T) {
			var got []usage
			ur := newUsageReader(io.NopCloser(r), true, func(u usage) { got = append(got, u) })
			out, err := io.ReadAll(ur)
			if err != nil {
				t.Fatal(err)
			}
			_ = ur.Close()
			if string(out) != stream {
				t.Error("the body changed on the way")
			}
			if len(got) != 1 || got[0] != (usage{model: "claude-test", input: 25, output: 17}) {
				t.Errorf("usage reports %+v, want one {25 17}", got)
			}
		})
	}
}
