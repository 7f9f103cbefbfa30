package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/claudette-dev/claudette-runner/images/demo/demotest"
)

func TestMain(m *testing.M) { demotest.Main(m) }

// fixtures are byte-exact captures of the real CLI 2.1.330 (copied from
// shared/claude-cli/fixtures; help.txt is claude-help.txt).
const fixtures = "testdata"

// proc is one run of the compiled agent with its own config dir and cwd.
type proc struct {
	t      *testing.T
	bin    string
	dir    string // cwd
	config string // CLAUDE_CONFIG_DIR
	env    []string
}

func newProc(t *testing.T) *proc {
	root := t.TempDir()
	p := &proc{t: t, bin: demotest.AgentBinary(t), dir: filepath.Join(root, "work"), config: filepath.Join(root, "config")}
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *proc) command(args ...string) *exec.Cmd {
	cmd := exec.Command(p.bin, args...)
	cmd.Dir = p.dir
	cmd.Env = append([]string{"PATH=/usr/bin:/bin", "HOME=" + p.dir, "CLAUDE_CONFIG_DIR=" + p.config, "ANTHROPIC_API_KEY=test"}, p.env...)
	return cmd
}

// run runs the agent to completion with stdin and returns stdout, stderr and the exit code.
func (p *proc) run(stdin string, args ...string) (string, string, int) {
	p.t.Helper()
	cmd := p.command(args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return stdout.String(), stderr.String(), exit.ExitCode()
	case err != nil:
		p.t.Fatalf("run agent: %v", err)
	}
	return stdout.String(), stderr.String(), 0
}

var streamArgs = []string{"-p", "--output-format", "stream-json", "--verbose"}

// parseLines parses NDJSON output, failing on any non-JSON line.
func parseLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line is not JSON: %v: %.200s", err, l)
		}
		lines = append(lines, m)
	}
	return lines
}

// checkTurn asserts the stream-json shape of one turn and returns its result line.
func checkTurn(t *testing.T, lines []map[string]any) map[string]any {
	t.Helper()
	if len(lines) < 3 || lines[0]["type"] != "system" || lines[0]["subtype"] != "init" {
		t.Fatalf("turn does not start with system/init: %v", lines)
	}
	sid := lines[0]["session_id"]
	results := 0
	for _, l := range lines {
		if l["session_id"] != sid {
			t.Fatalf("line with session %v, init says %v", l["session_id"], sid)
		}
		if l["type"] == "result" {
			results++
		}
	}
	last := lines[len(lines)-1]
	if results != 1 || last["type"] != "result" {
		t.Fatalf("want exactly one result line, at the end; got %d", results)
	}
	return last
}

func fixtureKeys(t *testing.T, name string, pick func(map[string]any) bool) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, name))
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	for _, l := range parseLines(t, string(b)) {
		if pick(l) {
			keys := make([]string, 0, len(l))
			for k := range l {
				keys = append(keys, k)
			}
			return keys
		}
	}
	t.Fatalf("fixture %s has no such line", name)
	return nil
}

func TestStreamJSONMatchesFixtureShape(t *testing.T) {
	p := newProc(t)
	out, stderr, code := p.run("", append(streamArgs, "Say hello")...)
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	lines := parseLines(t, out)
	res := checkTurn(t, lines)
	if res["result"] != "Mock reply: Say hello" || res["is_error"] != false || res["subtype"] != "success" {
		t.Fatalf("result %v", res)
	}
	byType := map[string]func(map[string]any) bool{
		"init":      func(l map[string]any) bool { return l["subtype"] == "init" },
		"assistant": func(l map[string]any) bool { return l["type"] == "assistant" },
		"result":    func(l map[string]any) bool { return l["type"] == "result" },
	}
	for name, pick := range byType {
		var ours map[string]any
		for _, l := range lines {
			if pick(l) {
				ours = l
			}
		}
		for _, k := range fixtureKeys(t, "text.jsonl", pick) {
			if _, ok := ours[k]; !ok {
				t.Errorf("%s line lacks fixture field %q", name, k)
			}
		}
	}
	if lines[0]["claude_code_version"] != "2.1.330" || lines[0]["cwd"] != p.dir || lines[0]["apiKeySource"] != "ANTHROPIC_API_KEY" {
		t.Errorf("init %v", lines[0])
	}
}

func TestOutputFormats(t *testing.T) {
	p := newProc(t)
	out, _, code := p.run("Prompt from stdin text\n", "-p")
	if code != 0 || out != "Mock reply: Prompt from stdin text\n" {
		t.Fatalf("text: exit %d, %q", code, out)
	}
	out, _, code = p.run("", "-p", "hi", "--output-format", "json")
	lines := parseLines(t, out)
	if code != 0 || len(lines) != 1 || lines[0]["type"] != "result" || lines[0]["result"] != "Mock reply: hi" {
		t.Fatalf("json: exit %d, %q", code, out)
	}
}

func TestUsageErrorsMatchCLI(t *testing.T) {
	verbose, err := os.ReadFile(filepath.Join(fixtures, "stream-json-requires-verbose.stderr.txt"))
	if err != nil {
		t.Fatal(err)
	}
	help, err := os.ReadFile("help.txt")
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		args       []string
		stdin      string
		code       int
		stdout     string
		stderrHas  string
		exactError string
	}{
		"stream-json without verbose": {args: []string{"-p", "Say hello", "--output-format", "stream-json"}, code: 1, exactError: string(verbose)},
		"unknown option":              {args: []string{"-p", "hi", "--no-such-flag"}, code: 1, stderrHas: "unknown option '--no-such-flag'"},
		"bad session id":              {args: []string{"-p", "hi", "--session-id", "123"}, code: 1, stderrHas: "Invalid session ID"},
		"empty prompt":                {args: []string{"-p"}, code: 1, stderrHas: "Input must be provided"},
		"version":                     {args: []string{"--version"}, stdout: "2.1.330 (Claude Code)\n"},
		"help":                        {args: []string{"--help"}, stdout: string(help)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			out, stderr, code := newProc(t).run(tc.stdin, tc.args...)
			if code != tc.code || out != tc.stdout {
				t.Fatalf("exit %d stdout %.100q, want %d %.100q", code, out, tc.code, tc.stdout)
			}
			if tc.exactError != "" && stderr != tc.exactError {
				t.Fatalf("stderr %q, want %q", stderr, tc.exactError)
			}
			if !strings.Contains(stderr, tc.stderrHas) {
				t.Fatalf("stderr %q lacks %q", stderr, tc.stderrHas)
			}
		})
	}
}

func TestSessionIDThenResume(t *testing.T) {
	p := newProc(t)
	const sid = "11111111-2222-4333-8444-555555555555"
	out, _, code := p.run("", append(streamArgs, "--session-id", sid, "Say hello")...)
	if code != 0 || checkTurn(t, parseLines(t, out))["session_id"] != sid {
		t.Fatalf("first turn: exit %d %s", code, out)
	}
	transcript := filepath.Join(p.config, "projects", strings.NewReplacer("/", "-", "_", "-", ".", "-").Replace(p.dir), sid+".jsonl")
	if _, err := os.Stat(transcript); err != nil {
		t.Fatalf("transcript: %v", err)
	}

	// Resume from another cwd: the transcript is still found.
	p.dir = t.TempDir()
	out, _, code = p.run("Second turn via resume", append(streamArgs, "--resume", sid)...)
	res := checkTurn(t, parseLines(t, out))
	want := `resumed session ` + sid + `: turn 2, previous prompt: "Say hello"`
	if code != 0 || res["session_id"] != sid || !strings.Contains(res["result"].(string), want) {
		t.Fatalf("resume: exit %d result %v, want %q", code, res["result"], want)
	}
	if _, _, code := p.run("", append(streamArgs, "--session-id", sid, "again")...); code != 1 {
		t.Fatalf("reusing a session id: exit %d, want 1", code)
	}
}

func TestResumeMissingMatchesFixture(t *testing.T) {
	const id = "00000000-0000-0000-0000-000000000000"
	out, stderr, code := newProc(t).run("", append(streamArgs, "hi", "--resume", id)...)
	lines := parseLines(t, out)
	if code != 1 || len(lines) != 1 || strings.TrimSpace(stderr) != "No conversation found with session ID: "+id {
		t.Fatalf("exit %d, %d lines, stderr %q", code, len(lines), stderr)
	}
	want := parseLines(t, mustRead(t, "resume-missing.jsonl"))[0]
	for k, v := range want {
		if k == "uuid" || k == "usage" {
			continue
		}
		if got, _ := json.Marshal(lines[0][k]); string(got) != string(mustJSON(v)) {
			t.Errorf("field %s = %s, fixture %s", k, got, mustJSON(v))
		}
	}
}

func mustRead(t *testing.T, name string) string {
	b, err := os.ReadFile(filepath.Join(fixtures, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }

func TestRootRefusal(t *testing.T) {
	p := newProc(t)
	out, stderr, code := p.run("", "-p", "hi", "--dangerously-skip-permissions")
	if os.Geteuid() != 0 {
		if code != 0 {
			t.Fatalf("non-root bypass: exit %d %s", code, stderr)
		}
		return
	}
	if code != 1 || out != "" || stderr != mustRead(t, "root-refusal.stderr.txt") {
		t.Fatalf("root bypass: exit %d stdout %q stderr %q", code, out, stderr)
	}
	p.env = []string{"IS_SANDBOX=1"}
	if _, _, code := p.run("", "-p", "hi", "--permission-mode", "bypassPermissions"); code != 0 {
		t.Fatalf("IS_SANDBOX=1: exit %d", code)
	}
}

// startUntil starts the agent and reads stdout until a line satisfies ready.
func (p *proc) startUntil(stdin string, ready func(map[string]any) bool, args ...string) (*exec.Cmd, *bufio.Reader, []map[string]any) {
	p.t.Helper()
	cmd := p.command(args...)
	cmd.Stdin = strings.NewReader(stdin)
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		p.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	r := bufio.NewReader(pipe)
	var seen []map[string]any
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			p.t.Fatalf("agent output ended before ready: %v", err)
		}
		var m map[string]any
		if json.Unmarshal(line, &m) != nil {
			p.t.Fatalf("non-JSON line %q", line)
		}
		seen = append(seen, m)
		if ready(m) {
			return cmd, r, seen
		}
	}
}

func isToolUse(m map[string]any) bool {
	return m["type"] == "assistant" && strings.Contains(string(mustJSON(m)), `"tool_use"`)
}

func TestSignals(t *testing.T) {
	tests := map[string]struct {
		sig         syscall.Signal
		code        int
		interrupted bool
	}{
		"SIGTERM exits 143": {syscall.SIGTERM, 143, false},
		"SIGINT exits 0":    {syscall.SIGINT, 0, true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := newProc(t)
			cmd, r, _ := p.startUntil("PROBE sleep 30s", isToolUse, streamArgs...)
			if err := cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			rest, _ := io.ReadAll(r)
			err := cmd.Wait()
			code := 0
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				code = exit.ExitCode()
			}
			lines := parseLines(t, string(rest))
			if code != tc.code {
				t.Fatalf("exit %d, want %d", code, tc.code)
			}
			for _, l := range lines {
				if l["type"] == "result" {
					t.Fatalf("result line after %v", tc.sig)
				}
			}
			got := len(lines) == 1 && strings.Contains(string(mustJSON(lines[0])), "[Request interrupted by user]")
			if got != tc.interrupted {
				t.Fatalf("after signal: %v", lines)
			}
		})
	}
}

func TestStreamJSONInput(t *testing.T) {
	p := newProc(t)
	args := append([]string{"--input-format", "stream-json"}, streamArgs...)
	stdin := `{"type":"control_request","request_id":"req_1","request":{"subtype":"initialize","hooks":null}}
{"type":"user","message":{"role":"user","content":"Remember the number 42."}}
{"type":"user","message":{"role":"user","content":[{"type":"text","text":"What number did I ask you to remember?"}]}}
`
	out, stderr, code := p.run(stdin, args...)
	lines := parseLines(t, out)
	if code != 0 || len(lines) < 7 || lines[0]["type"] != "control_response" {
		t.Fatalf("exit %d stderr %q lines %v", code, stderr, lines)
	}
	var results []map[string]any
	for _, l := range lines {
		if l["type"] == "result" {
			results = append(results, l)
		}
	}
	if len(results) != 2 || !strings.Contains(results[1]["result"].(string), `turn 2, previous prompt: "Remember the number 42."`) ||
		results[1]["result_index"] != float64(1) {
		t.Fatalf("results %v", results)
	}

	out, stderr, code = p.run("not json\n", args...)
	if code != 1 || out != "" || !strings.Contains(stderr, "Error parsing streaming input line") {
		t.Fatalf("invalid input: exit %d stdout %q stderr %q", code, out, stderr)
	}
}

func TestInterruptControlRequest(t *testing.T) {
	p := newProc(t)
	cmd := p.command(append([]string{"--input-format", "stream-json"}, streamArgs...)...)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	r := bufio.NewReader(stdout)
	next := func() map[string]any {
		line, err := r.ReadBytes('\n')
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	io.WriteString(stdin, `{"type":"user","message":{"role":"user","content":"PROBE sleep 30s"}}`+"\n")
	for m := next(); !isToolUse(m); m = next() {
	}
	io.WriteString(stdin, `{"type":"control_request","request_id":"req_int_1","request":{"subtype":"interrupt"}}`+"\n")
	var got []string
	for m := next(); ; m = next() {
		got = append(got, m["type"].(string))
		if m["type"] == "result" {
			if m["subtype"] != "error_during_execution" || m["is_error"] != true {
				t.Fatalf("interrupted result %v", m)
			}
			break
		}
	}
	if !strings.Contains(strings.Join(got, ","), "control_response") {
		t.Fatalf("no control_response: %v", got)
	}
	io.WriteString(stdin, `{"type":"user","message":{"role":"user","content":"After interrupt"}}`+"\n")
	stdin.Close()
	var last map[string]any
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			break
		}
		json.Unmarshal(line, &last)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after stdin EOF: %v", err)
	}
	if last["type"] != "result" || last["is_error"] != false {
		t.Fatalf("turn after interrupt: %v", last)
	}
}

// probeResults returns the parsed tool results of a turn, in order.
func probeResults(t *testing.T, lines []map[string]any) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range lines {
		if l["type"] != "user" {
			continue
		}
		block := l["message"].(map[string]any)["content"].([]any)[0].(map[string]any)
		if block["type"] != "tool_result" {
			continue
		}
		var f map[string]any
		if err := json.Unmarshal([]byte(block["content"].(string)), &f); err != nil {
			t.Fatalf("tool result is not JSON: %v", err)
		}
		out = append(out, f)
	}
	return out
}

func TestProbes(t *testing.T) {
	p := newProc(t)
	file := filepath.Join(p.dir, "sub", "hello.txt")
	prompt := strings.Join([]string{
		"Please inspect:",
		"PROBE write " + file + " hello  world",
		"PROBE read " + file,
		"PROBE fork 5",
		"PROBE events 50 2k",
		"PROBE alloc 32m",
		"PROBE filltmp 1m",
		"PROBE nosuchprobe",
		"PROBE report",
	}, "\n")
	out, _, code := p.run(prompt, streamArgs...)
	lines := parseLines(t, out)
	res := checkTurn(t, lines)
	f := probeResults(t, lines)
	if code != 0 || len(f) != 8 || res["num_turns"] != float64(9) {
		t.Fatalf("exit %d, %d probe results, result %v", code, len(f), res)
	}
	if f[0]["ok"] != true || f[1]["content"] != "hello  world" {
		t.Errorf("write/read: %v %v", f[0], f[1])
	}
	if f[2]["ok"] != true || f[2]["started"] != float64(5) {
		t.Errorf("fork: %v", f[2])
	}
	events := 0
	for _, l := range lines {
		if l["type"] == "assistant" && strings.Contains(string(mustJSON(l)), `"text":"event `) {
			events++
		}
	}
	if events != 50 || f[3]["events"] != float64(50) {
		t.Errorf("events: %d lines, finding %v", events, f[3])
	}
	if f[4]["bytes"] != float64(32<<20) || f[5]["bytes"] != float64(1<<20) {
		t.Errorf("alloc/filltmp: %v %v", f[4], f[5])
	}
	if f[6]["ok"] != false || f[6]["error"] == "" {
		t.Errorf("unknown probe: %v", f[6])
	}
	if f[7]["uid"] != float64(os.Getuid()) || f[7]["cwd"] != p.dir || f[7]["cgroup"] == nil || f[7]["mounts"] == nil {
		t.Errorf("report: %.300s", mustJSON(f[7]))
	}
}

func TestProbeControlFlow(t *testing.T) {
	tests := map[string]struct {
		prompt  string
		args    []string
		code    int
		result  bool
		isError bool
		subtype string
	}{
		"exit":      {prompt: "PROBE exit 7\nPROBE report", code: 7},
		"fail":      {prompt: "PROBE fail something broke\nPROBE report", code: 1, result: true, isError: true, subtype: "success"},
		"max turns": {prompt: "PROBE env\nPROBE env\nPROBE env", args: []string{"--max-turns", "2"}, code: 1, result: true, isError: true, subtype: "error_max_turns"},
		"raw lines": {prompt: "PROBE hugeline 200k\nPROBE flood 10k", code: 0, result: true, subtype: "success"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			out, _, code := newProc(t).run(tc.prompt, append(streamArgs, tc.args...)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d", code, tc.code)
			}
			var last map[string]any
			for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
				last = nil
				_ = json.Unmarshal([]byte(l), &last)
			}
			if got := last != nil && last["type"] == "result"; got != tc.result {
				t.Fatalf("result line present %v, want %v: %.300s", got, tc.result, out)
			}
			if tc.result && (last["is_error"] != tc.isError || last["subtype"] != tc.subtype) {
				t.Fatalf("result %v", last)
			}
		})
	}
}

func TestNoPersistenceAndFork(t *testing.T) {
	p := newProc(t)
	out, _, _ := p.run("", append(streamArgs, "one")...)
	sid := checkTurn(t, parseLines(t, out))["session_id"].(string)
	out, _, code := p.run("", append(streamArgs, "two", "--resume", sid, "--fork-session")...)
	res := checkTurn(t, parseLines(t, out))
	if code != 0 || res["session_id"] == sid || !strings.Contains(res["result"].(string), "turn 2") {
		t.Fatalf("fork: exit %d %v", code, res)
	}
	out, _, _ = p.run("", append(streamArgs, "three", "--no-session-persistence")...)
	sid3 := checkTurn(t, parseLines(t, out))["session_id"].(string)
	if _, _, code := p.run("", append(streamArgs, "four", "--resume", sid3)...); code != 1 {
		t.Fatalf("resume of an unpersisted session: exit %d, want 1", code)
	}
}
