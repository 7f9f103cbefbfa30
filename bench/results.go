package bench

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Results is everything one run of the suite measured: bench/results.json.
type Results struct {
	Machine     Machine      `json:"machine"`
	Started     time.Time    `json:"started"`
	Finished    time.Time    `json:"finished"`
	Overhead    *Overhead    `json:"turnOverhead,omitempty"`
	Breakdown   *Breakdown   `json:"breakdown,omitempty"`
	Relay       *Relay       `json:"relay,omitempty"`
	Concurrency *Concurrency `json:"concurrency,omitempty"`
	Idle        *Idle        `json:"idle,omitempty"`
	Checkout    *Checkout    `json:"checkout,omitempty"`
	GitRelay    *GitRelay    `json:"gitRelay,omitempty"`
	DiskWatch   *DiskWatch   `json:"diskWatcher,omitempty"`
}

// Machine is where the suite ran.
type Machine struct {
	Cores     int        `json:"cores"`
	MemoryGiB float64    `json:"memoryGiB"`
	Kernel    string     `json:"kernel"`
	Engine    string     `json:"engine"`
	Go        string     `json:"go"`
	Commit    string     `json:"commit"`
	LoadStart [3]float64 `json:"loadAverageStart"`
	LoadEnd   [3]float64 `json:"loadAverageEnd"`
}

// Overhead is measurement 1: the runner's path from a message to its first
// event, against the Docker CLI running the same image and command.
type Overhead struct {
	Turns             int     `json:"turns"`
	FirstEvent        Summary `json:"messageToFirstEvent"`
	Response          Summary `json:"messageToResponse"`
	CLI               Summary `json:"dockerRun"`
	CLIFirstByte      Summary `json:"dockerRunFirstByte"`
	Hardened          Summary `json:"dockerRunHardened"`
	HardenedFirstByte Summary `json:"dockerRunHardenedFirstByte"`
	Ratio             float64 `json:"ratioFirstEventToDockerRun"`
	RatioFirstByte    float64 `json:"ratioFirstEventToDockerRunFirstByte"`
	Met               bool    `json:"goalMet"`
	// Warm: turns in a workspace whose sandbox is kept warm (the figures
	// above are cold turns: a new sandbox each).
	Warm               Summary `json:"warmMessageToFirstEvent"`
	WarmResponse       Summary `json:"warmMessageToResponse"`
	WarmRatioFirstByte float64 `json:"ratioWarmFirstEventToDockerRunFirstByte"`
	WarmMet            bool    `json:"warmGoalMet"` // at most 0.15
}

// Phase is one step of a turn.
type Phase struct {
	Name string  `json:"name"`
	Ms   float64 `json:"ms"`
}

// Names of the breakdown's phases the table picks (the list).
const (
	PhaseCheckout   = "  of which checkout (warm)"
	PhaseCreate     = "container create"
	PhaseStart      = "start"
	PhaseFirstByte  = "first byte (started → first stdout byte)"
	PhaseFirstEvent = "message → first event (total)"
	PhaseWait       = "agent runs (started → exit seen)"
	PhaseRemove     = "remove"
	PhaseDelivered  = "removed → response at the orchestrator"
	PhaseResponse   = "message → response (total)"
	// The keeper's turns (no attach stream, wait or remove of their own).
	PhaseStartedToEvent       = "started → first event at the orchestrator (the keeper starts the agent, its output is read from a file)"
	PhaseFirstEventToResponse = "first event → response at the orchestrator (agent runs, the answer is recorded and sent)"
)

// Breakdown is measurement 2: where one warm turn's time goes (medians over
// a few turns traced through the engine proxy).
type Breakdown struct {
	Turns       int      `json:"turns"`
	Phases      []Phase  `json:"phases"`
	EngineCalls []string `json:"engineCallsPerTurn"`
}

// Relay is measurement 3.
type Relay struct {
	Events       int     `json:"events"`
	LineBytes    int     `json:"lineBytes"`
	Seconds      float64 `json:"seconds"` // first event to last event at the orchestrator
	EventsPerSec float64 `json:"eventsPerSecond"`
	MiBPerSec    float64 `json:"mibPerSecond"`
	AgentMs      float64 `json:"agentMs"` // the agent's own time to print them
	Posts        int     `json:"posts"`
	PeakRSSMiB   float64 `json:"peakRssMiB"`
	CPUSeconds   float64 `json:"runnerCpuSeconds"`
	Met          bool    `json:"goalMet"`
}

// Concurrency is measurement 4.
type Concurrency struct {
	Workspaces   int     `json:"workspaces"`
	Completed    int     `json:"completed"`
	SleepMs      float64 `json:"agentSleepMs"`
	WallMs       float64 `json:"wallMs"` // first message to last response
	PeakRSSMiB   float64 `json:"peakRssMiB"`
	At50         Summary `json:"overheadPerTurnAtN"`
	At1          Summary `json:"overheadPerTurnAt1"`
	Ratio        float64 `json:"ratioP50"`
	CLIAt50      Summary `json:"dockerRunOverheadAtN"`
	CLIAt1       Summary `json:"dockerRunOverheadAt1"`
	HardenedAt50 Summary `json:"dockerRunHardenedOverheadAtN"`
	HardenedAt1  Summary `json:"dockerRunHardenedOverheadAt1"`
	CPUSeconds   float64 `json:"runnerCpuSeconds"`
	Description  string  `json:"description"`
}

// Idle is measurement 5.
type Idle struct {
	Seconds          float64 `json:"seconds"`
	CPUPercent       float64 `json:"cpuPercentOfOneCore"`
	RSSMiB           float64 `json:"rssMiB"`
	ElectricRequests int     `json:"electricRequests"`
	Posts            int     `json:"orchestratorPosts"`
	Sandboxes        int     `json:"warmSandboxes"`
	Met              bool    `json:"goalMet"`
}

// Checkout is measurement 6.
type Checkout struct {
	Files       int     `json:"files"`
	MiB         float64 `json:"repositoryMiB"`
	Runner      Summary `json:"runnerColdShallowClone"`
	Git         Summary `json:"gitCloneDepth1"`
	Ratio       float64 `json:"ratioP50"`
	Warm        Summary `json:"warmCheckout"`
	TurnWarmMs  float64 `json:"warmCheckoutInATurnMs"`
	RunnerCPU   float64 `json:"runnerCloneCpuSeconds"`
	CheckoutMiB float64 `json:"checkoutMiB"`
}

// GitRelay is measurement 7: git through a turn's relay against git
// straight to the same server.
type GitRelay struct {
	MiB             float64 `json:"commitMiB"`
	Rounds          int     `json:"rounds"`
	Push            Summary `json:"pushDirect"`
	PushRelay       Summary `json:"pushRelayed"`
	PushRatio       float64 `json:"pushRatioP50"`
	Fetch           Summary `json:"fetchDirect"`
	FetchRelay      Summary `json:"fetchRelayed"`
	FetchRatio      float64 `json:"fetchRatioP50"`
	IdleRSSMiB      float64 `json:"runnerIdleRssMiB"`
	PushRSSMiB      float64 `json:"runnerRssOverIdlePushMiB"` // peak during a relayed push minus just before, the largest of the rounds
	FetchRSSMiB     float64 `json:"runnerRssOverIdleFetchMiB"`
	PushCPUSeconds  float64 `json:"runnerCpuSecondsPerPush"`
	FetchCPUSeconds float64 `json:"runnerCpuSecondsPerFetch"`
	Met             bool    `json:"goalMet"`
	// When the scenario ran and the machine's load meanwhile (it may be
	// merged into the results of an earlier run: -merge).
	At        time.Time  `json:"measuredAt"`
	Commit    string     `json:"commit"`
	LoadStart [3]float64 `json:"loadAverageStart"`
	LoadEnd   [3]float64 `json:"loadAverageEnd"`
}

// DiskWatch is measurement 8: the runner-enforced disk limit's watcher on
// many running workspaces that do not change.
type DiskWatch struct {
	Workspaces      int     `json:"workspaces"`
	FilesEach       int     `json:"filesEach"`
	Seconds         float64 `json:"seconds"`
	SteadyPercent   float64 `json:"steadyCpuPercent"`
	FullScanMs      float64 `json:"fullScanCpuMs"`
	ResyncPercent   float64 `json:"resyncCpuPercent"` // the full recount every ResyncSeconds, spread over it
	TotalPercent    float64 `json:"totalCpuPercent"`
	IntervalSeconds float64 `json:"intervalSeconds"`
	ResyncSeconds   float64 `json:"resyncSeconds"`
	Met             bool    `json:"goalMet"`
}

// Merge fills the measurements this run did not make from an earlier
// run's (keeping that run's machine and times, which describe them).
func (r *Results) Merge(earlier *Results) {
	if r.Overhead == nil && r.Breakdown == nil && r.Relay == nil && r.Concurrency == nil && r.Idle == nil && r.Checkout == nil {
		r.Machine, r.Started, r.Finished = earlier.Machine, earlier.Started, earlier.Finished
	}
	r.Overhead = cmp.Or(r.Overhead, earlier.Overhead)
	r.Breakdown = cmp.Or(r.Breakdown, earlier.Breakdown)
	r.Relay = cmp.Or(r.Relay, earlier.Relay)
	r.Concurrency = cmp.Or(r.Concurrency, earlier.Concurrency)
	r.Idle = cmp.Or(r.Idle, earlier.Idle)
	r.Checkout = cmp.Or(r.Checkout, earlier.Checkout)
	r.GitRelay = cmp.Or(r.GitRelay, earlier.GitRelay)
	r.DiskWatch = cmp.Or(r.DiskWatch, earlier.DiskWatch)
}

// WriteJSON writes the results to path.
func (r *Results) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// WriteTable writes the results as Markdown tables.
func (r *Results) WriteTable(w io.Writer) {
	m := r.Machine
	fmt.Fprintf(w, "Machine: %d cores, %.1f GiB, Linux %s, %s, %s; load average %.2f at start, %.2f at end.\n\n",
		m.Cores, m.MemoryGiB, m.Kernel, m.Engine, m.Go, m.LoadStart[0], m.LoadEnd[0])
	fmt.Fprintln(w, "| # | measurement | result | goal |")
	fmt.Fprintln(w, "|---|---|---|---|")
	row := func(n, what, result, goal string) { fmt.Fprintf(w, "| %s | %s | %s | %s |\n", n, what, result, goal) }
	if o := r.Overhead; o != nil {
		row("1", fmt.Sprintf("turn overhead: message at Electric → first `conversation.event` at the orchestrator, p50 / p95 (%d turns, instant agent, warm image and checkout)", o.Turns),
			fmt.Sprintf("%s / %s ms", num(o.FirstEvent.P50), num(o.FirstEvent.P95)), "")
		row("1", "`docker run --rm -i` of the same image and command via the Docker CLI, p50 (exit / first byte)",
			fmt.Sprintf("%s / %s ms", num(o.CLI.P50), num(o.CLIFirstByte.P50)), "")
		row("1", "ratio runner first event p50 / `docker run` p50 (/ its first byte)",
			fmt.Sprintf("%.2f (%.2f)", o.Ratio, o.RatioFirstByte), verdict("≤ 1.0", o.Met))
		row("1", "warm turn (the workspace's sandbox kept from its last turn): message → first event p50 / p95; ratio to `docker run`'s first byte",
			fmt.Sprintf("%s / %s ms; %.2f", num(o.Warm.P50), num(o.Warm.P95), o.WarmRatioFirstByte), verdict("≤ 0.15", o.WarmMet))
		row("1", "for reference: `docker run` with the runner's hardening and mounts, p50 (exit / first byte); runner message → response p50",
			fmt.Sprintf("%s / %s ms; %s ms", num(o.Hardened.P50), num(o.HardenedFirstByte.P50), num(o.Response.P50)), "")
	}
	if b := r.Breakdown; b != nil {
		ms := map[string]float64{}
		for _, p := range b.Phases {
			ms[p.Name] = p.Ms
		}
		var parts []string
		for _, p := range []struct{ label, name string }{
			{"checkout", PhaseCheckout}, {"container create", PhaseCreate}, {"start", PhaseStart},
			{"first byte", PhaseFirstByte}, {"started → first event", PhaseStartedToEvent}, {"wait", PhaseWait},
			{"remove", PhaseRemove}, {"response delivered", PhaseDelivered}, {"first event → response", PhaseFirstEventToResponse},
		} {
			if v, ok := ms[p.name]; ok {
				parts = append(parts, p.label+" "+num(v))
			}
		}
		row("2", fmt.Sprintf("one turn in a new sandbox, ms (median of %d; every phase in the next table)", b.Turns),
			fmt.Sprintf("%s; message → first event %s, → response %s", strings.Join(parts, ", "), num(ms[PhaseFirstEvent]), num(ms[PhaseResponse])), "")
	}
	if x := r.Relay; x != nil {
		row("3", fmt.Sprintf("relay: one agent prints %s events of %d bytes", thousands(x.Events), x.LineBytes),
			fmt.Sprintf("%s events/s (%.1f MiB/s), runner peak RSS %.1f MiB", thousands(int(x.EventsPerSec)), x.MiBPerSec, x.PeakRSSMiB),
			verdict("≥ 50,000/s, RSS < 100 MiB", x.Met))
	}
	if c := r.Concurrency; c != nil {
		row("4", fmt.Sprintf("%d workspaces at once, agent sleeps %s s", c.Workspaces, num(c.SleepMs/1000)),
			fmt.Sprintf("%d/%d completed; runner peak RSS %.1f MiB; overhead per turn p50 %s ms (p95 %s) at %d vs %s ms at 1 (×%.2f); `docker run` p50 %s ms at %d vs %s at 1 (hardened: %s vs %s)",
				c.Completed, c.Workspaces, c.PeakRSSMiB, num(c.At50.P50), num(c.At50.P95), c.Workspaces, num(c.At1.P50), c.Ratio,
				num(c.CLIAt50.P50), c.Workspaces, num(c.CLIAt1.P50), num(c.HardenedAt50.P50), num(c.HardenedAt1.P50)),
			verdict("all complete", c.Completed == c.Workspaces))
	}
	if i := r.Idle; i != nil {
		row("5", fmt.Sprintf("idle for %s s, live-polling, with the warm sandboxes of %d workspaces", num(i.Seconds), i.Sandboxes),
			fmt.Sprintf("%.3f %% of one core; RSS %.1f MiB", i.CPUPercent, i.RSSMiB), verdict("< 1 %", i.Met))
	}
	if c := r.Checkout; c != nil {
		row("6", fmt.Sprintf("cold shallow clone of %s files / %.0f MB over local HTTP, p50 of %d", thousands(c.Files), c.MiB*1.048576, c.Runner.N),
			fmt.Sprintf("runner %s ms vs `git clone --depth 1` %s ms (×%.2f)", num(c.Runner.P50), num(c.Git.P50), c.Ratio), "")
		warm := num(c.Warm.P50) + " ms"
		if c.TurnWarmMs > 0 {
			warm += fmt.Sprintf(" (in a turn of measurement 2: %s ms)", num(c.TurnWarmMs))
		}
		row("6", fmt.Sprintf("warm checkout (existing workspace), p50 of %d", c.Warm.N), warm, "")
	}
	if g := r.GitRelay; g != nil {
		row("7", fmt.Sprintf("git push of a %.0f MiB commit through a turn's git relay (the sandbox's forward → git.sock → runner → host) vs `git push` straight to the same server, p50 of %d", g.MiB, g.Rounds),
			fmt.Sprintf("%s vs %s ms (×%.2f); runner RSS +%.1f MiB over idle (%.1f MiB), %.2f s runner CPU", num(g.PushRelay.P50), num(g.Push.P50), g.PushRatio, g.PushRSSMiB, g.IdleRSSMiB, g.PushCPUSeconds),
			verdict("≤ 1.1×, RSS < +64 MiB", g.PushRatio <= 1.1 && g.PushRSSMiB < 64))
		row("7", fmt.Sprintf("git fetch of the same commit into an empty repository, relayed vs direct, p50 of %d", g.Rounds),
			fmt.Sprintf("%s vs %s ms (×%.2f); runner RSS +%.1f MiB, %.2f s runner CPU", num(g.FetchRelay.P50), num(g.Fetch.P50), g.FetchRatio, g.FetchRSSMiB, g.FetchCPUSeconds),
			verdict("≤ 1.1×", g.FetchRatio <= 1.1))
	}
	if d := r.DiskWatch; d != nil {
		row("8", fmt.Sprintf("runner-enforced disk limit: the watcher on %d running workspaces of %s files, unchanged, measured every %s s", d.Workspaces, thousands(d.FilesEach), num(d.IntervalSeconds)),
			fmt.Sprintf("%.3f %% of one core at steady state + %.3f %% for the full recount every %s min (%s ms of CPU) = %.3f %%", d.SteadyPercent, d.ResyncPercent, num(d.ResyncSeconds/60), num(d.FullScanMs), d.TotalPercent),
			verdict("< 2 %", d.Met))
	}
	if b := r.Breakdown; b != nil {
		fmt.Fprintf(w, "\n| one turn in a new sandbox (median of %d) | ms |\n|---|---|\n", b.Turns)
		for _, p := range b.Phases {
			fmt.Fprintf(w, "| %s | %s |\n", p.Name, num(p.Ms))
		}
		fmt.Fprintf(w, "\nEngine calls per turn: %s.\n", strings.Join(b.EngineCalls, ", "))
	}
	if g := r.GitRelay; g != nil && (g.At.Before(r.Started) || g.At.After(r.Finished)) {
		fmt.Fprintf(w, "\nMeasurement 7 ran on its own (-merge) at %s, commit %s; load average %.2f at its start, %.2f at its end.\n",
			g.At.Format(time.RFC3339), g.Commit, g.LoadStart[0], g.LoadEnd[0])
	}
}

func verdict(goal string, met bool) string {
	if met {
		return goal + ": met"
	}
	return goal + ": **missed**"
}

// num prints a number with up to 2 decimals, fewer when large.
func num(v float64) string {
	switch {
	case v >= 100 || v <= -100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10 || v <= -10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
