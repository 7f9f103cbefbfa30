package relay

import (
	"bufio"
	"slices"
	"strings"
	"testing"

	"github.com/claudette-dev/claudette-runner/modules/config"
)

const (
	oidA = "1111111111111111111111111111111111111111"
	oidB = "2222222222222222222222222222222222222222"
)

func pushBody(lines ...string) string {
	var b []byte
	for _, l := range lines {
		b = appendPkt(b, l)
	}
	return string(append(b, "0000PACK..."...))
}

// The commands of a push are read up to their flush (shallow lines
// skipped, capabilities kept), the pack stays unread, and the relay's own
// refusal is a result the parser (and git) read back, with or without
// side-band, whatever the write sizes.
func TestPushRequestAndReports(t *testing.T) {
	body := pushBody("shallow "+oidA+"\n", oidA+" "+oidB+" refs/heads/claudette/c-1\x00report-status side-band-64k agent=git/2.39\n", zeroID+" "+oidB+" refs/tags/v1\n")
	br := bufio.NewReader(strings.NewReader(body))
	p, err := readPushRequest(br)
	if err != nil {
		t.Fatal(err)
	}
	want := []pushCommand{{oidA, oidB, "refs/heads/claudette/c-1"}, {zeroID, oidB, "refs/tags/v1"}}
	if !slices.Equal(p.Commands, want) || !p.sideband() || string(p.Head)+"PACK..." != body {
		t.Fatalf("read %+v", p)
	}
	if rest, _ := br.Peek(4); string(rest) != "PACK" {
		t.Errorf("the pack was read: %q", rest)
	}
	cfg := config.Defaults()
	v := checkPush(cfg, "claudette/c-1", p)
	if !v.refused() || v.labels[0] != refusedWithTheRest || v.labels[1] != refusedTag {
		t.Errorf("verdict %+v", v)
	}
	for _, sideband := range []bool{false, true} {
		q := p
		if !sideband {
			q.Caps = nil
		}
		report := refusalReport(q, v.reasons)
		for _, step := range []int{1, 7, len(report)} {
			rp := &reportParser{sideband: sideband}
			for i := 0; i < len(report); i += step {
				_, _ = rp.Write(report[i:min(i+step, len(report))])
			}
			if rp.unpack != "ok" || len(rp.statuses) != 2 || rp.statuses[1].Ref != "refs/tags/v1" || rp.statuses[1].OK ||
				!strings.Contains(rp.statuses[1].Reason, "tags are not pushed") {
				t.Errorf("side-band %v, step %d: parsed %+v", sideband, step, rp)
			}
		}
	}
	for name, bad := range map[string]string{
		"not hex":      "zzzz",
		"short line":   pushBody("abc\n"),
		"bad id":       pushBody("xyz " + oidB + " refs/heads/a\n"),
		"no flush eof": string(appendPkt(nil, oidA+" "+oidB+" refs/heads/a\n")),
	} {
		if _, err := readPushRequest(bufio.NewReader(strings.NewReader(bad))); err == nil {
			t.Errorf("%s: read without error", name)
		}
	}
	if p, err := readPushRequest(bufio.NewReader(strings.NewReader("0000"))); err != nil || len(p.Commands) != 0 {
		t.Errorf("git's probe: %+v %v", p, err)
	}
}

func TestGitRemoteCheck(t *testing.T) {
	good := []GitRemote{{"https://github.com/o/r.git", "claudette/c-1"}, {"/srv/repo", "claudette/x"}, {"http://127.0.0.1:1/r", "b"}}
	bad := []GitRemote{{"https://u:p@github.com/o/r.git", "b"}, {"ftp://h/r", "b"}, {"relative/path", "b"}, {"/srv/../etc", "b"},
		{"https://h/r", ""}, {"https://h/r", "a..b"}, {"https://h/r", "-x"}, {"https://h/r", "a b"}, {"https://h/r", "refs/heads/x"}, {"https://h/r?x=1", "b"}}
	for _, g := range good {
		if err := g.check(); err != nil {
			t.Errorf("%+v: %v", g, err)
		}
	}
	for _, g := range bad {
		if err := g.check(); err == nil {
			t.Errorf("%+v accepted", g)
		}
	}
}
