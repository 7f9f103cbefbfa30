package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
)

// instantPrompt is answered at once by the demo agent ("Mock reply: ...").
const instantPrompt = "Say hello"

// BenchmarkTurnOverhead is measurement 1: from the message appearing at
// Electric to the first conversation.event at the orchestrator, with an
// agent that answers at once, a warm image and an existing checkout; and in
// the same run, interleaved turn by turn so that the machine's noise hits
// both alike, `docker run --rm` of the same image and command through the
// Docker CLI (plain, and with the runner's hardening and mounts).
func BenchmarkTurnOverhead(b *testing.B) {
	turns := max(*turnsFlag, 30)
	e := newEnv(b, "overhead", 20*time.Second)
	d := e.start("")
	plain, hardened := cliArgs(b)
	const ws = "ws-overhead"
	const coldWS = "ws-overhead-cold" // its sandbox is removed before each turn: every turn there starts cold

	logf(b, "warming up: the first turn clones the checkout")
	for i := range 4 {
		msg := fmt.Sprintf("warm-%d", i)
		e.turn(d, msg, ws, "c-"+msg, instantPrompt)
		e.turn(d, msg+"-cold", coldWS, "c-"+msg+"-cold", instantPrompt)
		mustCLI(b, plain())
		mustCLI(b, hardened())
	}
	var first, response, warm, warmResponse, cli, cliFirst, hard, hardFirst Sample
	steps := []func(i int){
		func(i int) {
			msg := fmt.Sprintf("turn-%03d", i)
			e.removeSandboxes(coldWS) // outside the measured time: the turn finds its sandbox gone and starts a new one
			t0, r := e.turn(d, msg, coldWS, "c-"+msg, instantPrompt)
			first = append(first, e.firstEvent(msg).Sub(t0))
			response = append(response, r.At.Sub(t0))
		},
		func(i int) {
			msg := fmt.Sprintf("warm-turn-%03d", i)
			t0, r := e.turn(d, msg, ws, "c-"+msg, instantPrompt)
			warm = append(warm, e.firstEvent(msg).Sub(t0))
			warmResponse = append(warmResponse, r.At.Sub(t0))
		},
		func(int) {
			run := mustCLI(b, plain())
			cli, cliFirst = append(cli, run.Total), append(cliFirst, run.FirstByte)
		},
		func(int) {
			run := mustCLI(b, hardened())
			hard, hardFirst = append(hard, run.Total), append(hardFirst, run.FirstByte)
		},
	}
	logf(b, "measuring %d turns, %d docker runs of each kind, interleaved", turns, turns)
	for i := range turns {
		for k := range steps { // rotate the order: no kind always follows the same one
			steps[(i+k)%len(steps)](i)
		}
	}
	o := &Overhead{Turns: turns, FirstEvent: first.Summarize(), Response: response.Summarize(),
		CLI: cli.Summarize(), CLIFirstByte: cliFirst.Summarize(), Hardened: hard.Summarize(), HardenedFirstByte: hardFirst.Summarize(),
		Ratio: Ratio(first.Median(), cli.Median()), RatioFirstByte: Ratio(first.Median(), cliFirst.Median()),
		Warm: warm.Summarize(), WarmResponse: warmResponse.Summarize(), WarmRatioFirstByte: Ratio(warm.Median(), cliFirst.Median())}
	o.Met = o.Ratio <= 1
	o.WarmMet = o.WarmRatioFirstByte <= 0.15
	logf(b, "first event p50: cold %.1f ms (%.2fx docker run to its first byte), warm %.1f ms (%.2fx), docker run first byte %.1f ms",
		o.FirstEvent.P50, o.RatioFirstByte, o.Warm.P50, o.WarmRatioFirstByte, o.CLIFirstByte.P50)
	b.ReportMetric(o.FirstEvent.P50, "first-event-p50-ms")
	b.ReportMetric(o.FirstEvent.P95, "first-event-p95-ms")
	b.ReportMetric(o.CLI.P50, "docker-run-p50-ms")
	b.ReportMetric(o.Ratio, "ratio")
	b.ReportMetric(o.Warm.P50, "warm-first-event-p50-ms")
	b.ReportMetric(o.WarmRatioFirstByte, "warm-ratio-first-byte")
	record(func(r *Results) { r.Overhead = o })
}

// cliArgs returns builders of the two `docker run` command lines: plain, and
// with what the runner asks of the engine (sandbox/create.go): hardening,
// limits, the sandbox user, the checkout and agent-state binds and the
// agent's environment. Each call has a new session id, as each turn has.
func cliArgs(tb testing.TB) (plain, hardened func() []string) {
	checkout, state := tb.TempDir(), tb.TempDir()
	if err := os.WriteFile(filepath.Join(checkout, "README.md"), []byte("# bench fixture\n"), 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.Chmod(state, 0o700); err != nil {
		tb.Fatal(err)
	}
	if os.Geteuid() == 0 { // the sandbox user owns them, as the runner arranges
		for _, dir := range []string{checkout, state, filepath.Join(checkout, "README.md")} {
			if err := os.Chown(dir, 1000, 1000); err != nil {
				tb.Fatal(err)
			}
		}
	}
	agent := func() []string {
		return []string{image(tb), "claude", "-p", "--output-format", "stream-json", "--verbose",
			"--session-id=" + uuid.NewString(), "--permission-mode=bypassPermissions"}
	}
	plain = func() []string {
		return append([]string{"run", "--rm", "-i", "--network", "none"}, agent()...)
	}
	hardened = func() []string {
		return append([]string{"run", "--rm", "-i", "--network", "none", "--init", "--read-only",
			"--tmpfs", "/tmp:rw,nosuid,nodev,mode=1777,size=" + strconv.Itoa(512<<20),
			"--cap-drop", "ALL", "--security-opt", "no-new-privileges:true", "--ipc", "private", "--cgroupns", "private",
			"--oom-score-adj", "500", "--memory", "2g", "--memory-swap", "2g", "--cpus", "2", "--pids-limit", "512",
			"--ulimit", "nofile=8192:8192", "--ulimit", "core=0:0", "--user", "1000:1000", "--stop-timeout", "10",
			"--log-driver", "json-file", "--log-opt", "max-size=" + strconv.Itoa(128<<20), "--log-opt", "max-file=5",
			"--mount", "type=bind,src=" + checkout + ",dst=/workspace,bind-propagation=rprivate",
			"--mount", "type=bind,src=" + state + ",dst=/claude-state,bind-propagation=rprivate",
			"-w", "/workspace", "-e", "CLAUDE_CONFIG_DIR=/claude-state", "-e", "HOME=/tmp/home",
			"-e", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1", "-e", "DISABLE_TELEMETRY=1",
			"-e", "DISABLE_ERROR_REPORTING=1", "-e", "DISABLE_AUTOUPDATER=1",
			"--label", "dev.claudette.bench=true",
		}, agent()...)
	}
	return plain, hardened
}

// mustCLI runs the Docker CLI with the instant prompt and checks that the
// agent answered.
func mustCLI(tb testing.TB, args []string) CLIRun {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	run, err := DockerCLI(ctx, []byte(instantPrompt), args...)
	if err != nil {
		tb.Fatal(err)
	}
	if !bytes.Contains(run.Stdout, []byte(`"type":"result"`)) {
		tb.Fatalf("docker run printed no result line:\n%s", run.Stdout)
	}
	return run
}
