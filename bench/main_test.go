package bench

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/images/demo"
	"github.com/claudette-dev/claudette-runner/images/demo/demotest"
	"github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

var (
	runnerFlag  = flag.String("runner", "", "daemon binary to measure (default: built from ./cmd/claudette-runner as `make build` does)")
	resultsFlag = flag.String("results", "results.json", "where the results are written (relative to the bench directory)")
	turnsFlag   = flag.Int("turns", 40, "measured turns (and docker runs of each kind) of the overhead scenario; at least 30")
	idleFlag    = flag.Duration("idle", 60*time.Second, "window of the idle measurement")
	parallel    = flag.Int("workspaces", 50, "workspaces at once in the concurrency scenario")
	mergeFlag   = flag.Bool("merge", false, "keep the measurements this run does not make from the existing -results file (to run one scenario on its own)")
)

// The results of this run, filled in by the benchmarks and written at the end.
var (
	resultsMu sync.Mutex
	results   = &Results{}
	recorded  bool
)

// record stores a scenario's figures.
func record(set func(r *Results)) {
	resultsMu.Lock()
	defer resultsMu.Unlock()
	set(results)
	recorded = true
}

func TestMain(m *testing.M) {
	flag.Parse()
	results.Started = time.Now().UTC()
	results.Machine.LoadStart = loadAverage()
	code := m.Run()
	if recorded {
		if err := finish(); err != nil {
			fmt.Fprintf(os.Stderr, "bench: %v\n", err)
			code = 1
		}
	}
	cleanup()
	os.Exit(code)
}

// finish describes the machine and writes the table and the JSON file.
func finish() error {
	results.Finished = time.Now().UTC()
	results.Machine = machine(results.Machine.LoadStart)
	if results.GitRelay != nil {
		results.GitRelay.Commit = results.Machine.Commit
	}
	if results.Checkout != nil && results.Breakdown != nil {
		for _, p := range results.Breakdown.Phases {
			if p.Name == PhaseCheckout {
				results.Checkout.TurnWarmMs = p.Ms
			}
		}
	}
	fmt.Println()
	path, err := filepath.Abs(*resultsFlag)
	if err != nil {
		return err
	}
	if *mergeFlag {
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("-merge: %w", err)
		}
		var earlier Results
		if err := json.Unmarshal(b, &earlier); err != nil {
			return fmt.Errorf("-merge: %s: %w", path, err)
		}
		results.Merge(&earlier)
	}
	results.WriteTable(os.Stdout)
	if err := results.WriteJSON(path); err != nil {
		return err
	}
	fmt.Printf("\nwrote %s\n", path)
	return nil
}

var (
	binOnce sync.Once
	binPath string
	binDir  string
	binErr  error

	imageMu  sync.Mutex
	imageTag string
)

// runnerBinary is the daemon under test.
func runnerBinary(tb testing.TB) string {
	tb.Helper()
	binOnce.Do(func() {
		if *runnerFlag != "" {
			binPath, binErr = filepath.Abs(*runnerFlag)
			return
		}
		if binDir, binErr = os.MkdirTemp("", "claudette-bench-"); binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "claudette-runner")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", binPath,
			"github.com/claudette-dev/claudette-runner/cmd/claudette-runner")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("build the runner: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		tb.Fatal(binErr)
	}
	return binPath
}

// image is the demo sandbox image (the fake claude), built offline, under a
// tag of this run's own. It is checked at every call and made again if it
// went missing (another process on the engine may prune test images).
func image(tb testing.TB) string {
	tb.Helper()
	imageMu.Lock()
	defer imageMu.Unlock()
	tag := fmt.Sprintf("%s:bench-%d", demotest.Repository, os.Getpid())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cli, err := client.New(client.FromEnv)
	if err != nil {
		tb.Fatal(err)
	}
	defer cli.Close()
	if _, err := cli.ImageInspect(ctx, tag); err == nil {
		return tag
	}
	imageTag = tag
	if _, err := demo.BuildImage(ctx, cli, tag, demo.Options{Labels: map[string]string{demotest.TestLabel: "true"}}); err != nil {
		tb.Fatalf("demo image: %v", err)
	}
	return tag
}

// cleanup removes what the run built: the binary and the image tag (the
// image goes with its last tag).
func cleanup() {
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	if imageTag == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cli, err := client.New(client.FromEnv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: docker client: %v\n", err)
		return
	}
	defer cli.Close()
	if _, err := cli.ImageRemove(ctx, imageTag, client.ImageRemoveOptions{PruneChildren: true}); err != nil && !errdefs.IsNotFound(err) {
		fmt.Fprintf(os.Stderr, "bench: remove image %s: %v\n", imageTag, err)
	}
}

// machine describes the host and its engine.
func machine(loadStart [3]float64) Machine {
	m := Machine{Cores: runtime.NumCPU(), Go: runtime.Version(), LoadStart: loadStart, LoadEnd: loadAverage()}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				kb, _ := strconv.ParseFloat(f[1], 64)
				m.MemoryGiB = float64(int(kb/(1<<20)*10)) / 10
			}
		}
	}
	if out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		m.Commit = strings.TrimSpace(string(out))
		if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
			m.Commit += "-dirty"
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if cli, err := client.New(client.FromEnv); err == nil {
		defer cli.Close()
		if info, err := cli.Info(ctx, client.InfoOptions{}); err == nil {
			i := info.Info
			m.Engine = fmt.Sprintf("Docker %s (API %s, cgroup v%s, %s driver, %s runtime, %s storage)",
				i.ServerVersion, cli.ClientVersion(), i.CgroupVersion, i.CgroupDriver, i.DefaultRuntime, i.Driver)
		}
	}
	return m
}

func loadAverage() [3]float64 {
	var la [3]float64
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return la
	}
	f := strings.Fields(string(b))
	for i := 0; i < 3 && i < len(f); i++ {
		la[i], _ = strconv.ParseFloat(f[i], 64)
	}
	return la
}
