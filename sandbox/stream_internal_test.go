package sandbox

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/moby/moby/api/pkg/stdcopy"
)

// muxed frames stdout and stderr chunks the way the engine does.
func muxed(t *testing.T, chunks ...any) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	frame := func(stream byte, p string) {
		hdr := []byte{stream, 0, 0, 0, 0, 0, 0, 0}
		binary.BigEndian.PutUint32(hdr[4:], uint32(len(p)))
		buf.Write(hdr)
		buf.WriteString(p)
	}
	for _, c := range chunks {
		switch v := c.(type) {
		case string:
			frame(byte(stdcopy.Stdout), v)
		case stderrChunk:
			frame(byte(stdcopy.Stderr), string(v))
		}
	}
	return &buf
}

type stderrChunk string

func readAll(s *stream, src *bytes.Buffer) []Line {
	go s.run(src)
	var lines []Line
	for l := range s.lines {
		lines = append(lines, l)
	}
	<-s.done
	return lines
}

func TestStreamLines(t *testing.T) {
	long := strings.Repeat("x", 300)
	cases := map[string]struct {
		chunks      []any
		lineLimit   int64
		outputLimit int64
		skip        int64
		want        []string // "!" prefix = truncated
		limitHit    bool
	}{
		"plain lines":        {chunks: []any{"a\nbb\n", "ccc\n"}, want: []string{"a", "bb", "ccc"}},
		"split across reads": {chunks: []any{"ab", "c\nd", "e\n"}, want: []string{"abc", "de"}},
		"empty lines kept":   {chunks: []any{"a\n\nb\n"}, want: []string{"a", "", "b"}},
		"no final newline":   {chunks: []any{"a\nlast"}, want: []string{"a", "last"}},
		"stderr apart":       {chunks: []any{"a\n", stderrChunk("oops\n"), "b\n"}, want: []string{"a", "b"}},
		"cut at the limit":   {chunks: []any{long + "\nnext\n"}, lineLimit: 100, want: []string{"!" + long[:100], "next"}},
		"cut across chunks":  {chunks: []any{long, long, "\nnext\n"}, lineLimit: 100, want: []string{"!" + long[:100], "next"}},
		"exactly the limit":  {chunks: []any{long[:100] + "\n"}, lineLimit: 100, want: []string{long[:100]}},
		"skip lines":         {chunks: []any{"1\n2\n3\n4\n"}, skip: 2, want: []string{"3", "4"}},
		"skip counts cut":    {chunks: []any{long + "\n2\n3\n"}, lineLimit: 10, skip: 1, want: []string{"2", "3"}},
		"output limit": {chunks: []any{"aaaa\nbbbb\ncccc\n"}, outputLimit: 12,
			want: []string{"aaaa", "bbbb", "!cc"}, limitHit: true},
		"stderr counts": {chunks: []any{stderrChunk("0123456789"), "aaaa\nbbbb\n"}, outputLimit: 12,
			want: []string{"!aa"}, limitHit: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if tc.lineLimit == 0 {
				tc.lineLimit = 1 << 20
			}
			if tc.outputLimit == 0 {
				tc.outputLimit = 1 << 30
			}
			hit := false
			s := newStream(tc.lineLimit, tc.outputLimit, tc.skip, make(chan struct{}), func() { hit = true })
			var got []string
			for _, l := range readAll(s, muxed(t, tc.chunks...)) {
				g := string(l.Data)
				if l.Truncated {
					g = "!" + g
				}
				got = append(got, g)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("lines %q, want %q", got, tc.want)
			}
			if hit != tc.limitHit {
				t.Errorf("output limit hit %v, want %v", hit, tc.limitHit)
			}
		})
	}
}

func TestStreamDetach(t *testing.T) {
	stop := make(chan struct{})
	s := newStream(1<<20, 1<<30, 0, stop, nil)
	go s.run(muxed(t, "a\nb\nc\n"))
	if l := <-s.lines; string(l.Data) != "a" {
		t.Fatalf("first line %q", l.Data)
	}
	close(stop) // nobody reads any more
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the stream did not end after detach")
	}
}

func TestStderrTail(t *testing.T) {
	tb := tailBuffer{max: 8}
	for _, s := range []string{"hello ", "world, ", "this is the end"} {
		tb.Write([]byte(s))
	}
	if got := string(tb.Bytes()); len(got) != 8 || got != " the end" {
		t.Errorf("tail %q, want the last 8 bytes", got)
	}
}

func TestFinalStatus(t *testing.T) {
	lim := limits{memory: 2 << 30, pids: 512, timeout: 30 * time.Minute}
	cases := map[string]struct {
		kind   StopKind
		code   int
		oom    bool
		ev     cgroupEvents
		want   StopKind
		reason string
	}{
		"clean":               {code: 0, want: Exited, reason: "exited with code 0"},
		"failure":             {code: 3, want: Exited, reason: "exited with code 3"},
		"oom":                 {code: 137, oom: true, want: OOMKilled, reason: "killed: memory limit 2 GiB reached"},
		"child oom":           {code: 0, ev: cgroupEvents{oomKills: 1}, want: Exited, reason: "exited with code 0 (memory limit 2 GiB reached, a process was killed)"},
		"timeout":             {kind: TimedOut, code: 143, want: TimedOut, reason: "stopped: turn timeout 30m"},
		"timeout despite oom": {kind: TimedOut, code: 137, oom: true, want: TimedOut, reason: "stopped: turn timeout 30m"},
		"cancel":              {kind: Cancelled, code: 143, want: Cancelled, reason: "stopped: cancelled"},
		"output":              {kind: OutputLimit, code: 143, want: OutputLimit, reason: "stopped: output limit"},
		"pids":                {code: 1, ev: cgroupEvents{pidsMax: 7}, want: Exited, reason: "exited with code 1 (process limit 512 reached)"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			st := finalStatus(tc.kind, tc.code, tc.oom, tc.ev, lim)
			if st.Kind != tc.want || st.Reason != tc.reason || st.ExitCode != tc.code {
				t.Errorf("status %+v, want %s %q", st, tc.want, tc.reason)
			}
		})
	}
}

func TestProblems(t *testing.T) {
	full := Capabilities{CgroupVersion: "1", MemoryLimit: true, SwapLimit: true, CPULimit: true, PidsLimit: true,
		Seccomp: true, SeccompProfile: "default", Runtimes: []string{"runc"}}
	cases := map[string]struct {
		mutate  func(*Capabilities)
		runtime string
		want    string
	}{
		"all enforceable":  {mutate: func(*Capabilities) {}},
		"no swap":          {mutate: func(c *Capabilities) { c.SwapLimit = false }, want: "swap limits are not supported"},
		"no memory":        {mutate: func(c *Capabilities) { c.MemoryLimit = false }, want: "memory limits are not supported"},
		"no pids":          {mutate: func(c *Capabilities) { c.PidsLimit = false }, want: "process limits are not supported"},
		"no cpu":           {mutate: func(c *Capabilities) { c.CPULimit = false }, want: "CPU limits are not supported"},
		"rootless v1":      {mutate: func(c *Capabilities) { c.Rootless = true }, want: "rootless docker on cgroup v1"},
		"no seccomp":       {mutate: func(c *Capabilities) { c.Seccomp = false }, want: "no seccomp profile"},
		"missing runtime":  {mutate: func(*Capabilities) {}, runtime: "runsc", want: `sandbox runtime "runsc" (--sandbox-runtime) is not registered with the docker engine, which has [runc]`},
		"rootless v2 fine": {mutate: func(c *Capabilities) { c.Rootless, c.CgroupVersion = true, "2" }},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := config.Defaults()
			cfg.Sandbox.Runtime = tc.runtime
			m := &Manager{cfg: cfg}
			c := full
			c.Runtimes = append([]string(nil), full.Runtimes...)
			tc.mutate(&c)
			p := strings.Join(m.problems(c), "; ")
			if tc.want == "" && p != "" || !strings.Contains(p, tc.want) {
				t.Errorf("problems %q, want %q", p, tc.want)
			}
		})
	}
}

func TestContainerName(t *testing.T) {
	a, b := ContainerName("a-b", "c"), ContainerName("a", "b-c")
	if a == b {
		t.Errorf("names collide: %s", a)
	}
	if !strings.HasPrefix(a, "claudette-a-b-c-") || ContainerName("a-b", "c") != a {
		t.Errorf("name %s is not stable and readable", a)
	}
}
