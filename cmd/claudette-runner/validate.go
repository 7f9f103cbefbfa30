package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/claudette-dev/claudette-runner/images/demo"
	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/claudette-dev/claudette-runner/modules/disk"
	"github.com/claudette-dev/claudette-runner/modules/relay"
	"github.com/claudette-dev/claudette-runner/modules/version"
	"github.com/claudette-dev/claudette-runner/sandbox"
	"github.com/spf13/pflag"
	"go.uber.org/zap"
)

// engineCheckTimeout bounds validate's questions to the Docker engine.
const engineCheckTimeout = 30 * time.Second

// isDemoImage reports the offline demo image (its agent needs no model
// credential): by its name, or by the label its build sets.
func isDemoImage(image string) bool {
	if strings.HasPrefix(image, "claudette/sandbox-demo:") {
		return true
	}
	cli, err := sandbox.NewClient()
	if err != nil {
		return false
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), serviceCheckTimeout)
	defer cancel()
	res, err := cli.ImageInspect(ctx, image)
	return err == nil && res.Config != nil && res.Config.Labels[demo.HashLabel] != ""
}

// newCheckClient is the HTTP client of validate's service checks.
func newCheckClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSHandshakeTimeout = serviceCheckTimeout
	return &http.Client{Transport: t}
}

func validateCommand() *command {
	var offline bool
	return &command{
		name:     "validate",
		summary:  "check the configuration, the Docker engine, runtime and image, and reach Electric, the orchestrator, the model API and the git hosts; print it, secrets masked",
		settings: true,
		flags: func(fs *pflag.FlagSet) {
			fs.BoolVar(&offline, "offline", false, "skip the network checks (Electric, orchestrator, model API, git hosts)")
		},
		run: func(inv *invocation) int { return runValidate(inv, offline) },
	}
}

// runValidate loads and checks the configuration exactly as start does, asks
// the Docker engine what it can enforce and whether the sandbox image is there,
// prints the effective configuration and every problem, and exits 0 or 1.
func runValidate(inv *invocation, offline bool) int {
	cfg, problems := inv.loadConfig()
	problems = append(problems, cfg.Validate()...)
	if cfg.Meter.ModelPrices != "" {
		if _, err := relay.LoadPrices(cfg.Meter.ModelPrices); err != nil {
			problems = append(problems, config.ProblemOf("modelPrices", "%v", err))
		}
	}
	fmt.Fprintf(inv.stdout, "%s\n\nEffective configuration:\n%s\n", version.String(), cfg)
	// The services are asked while the engine is: each check has its own
	// timeout, so a validate with everything down still ends in seconds.
	var services config.Problems
	var svcOut strings.Builder
	done := make(chan struct{})
	go func() {
		defer close(done)
		if !offline {
			services = checkServices(&svcOut, serviceChecks(cfg, newCheckClient()))
		}
	}()
	problems = append(problems, checkEngine(inv.stdout, cfg)...)
	if err := relay.CheckCredential(cfg, isDemoImage(cfg.Sandbox.Image)); err != nil {
		problems = append(problems, config.Problem{Setting: "model credential", Message: err.Error()})
	}
	<-done
	if offline {
		fmt.Fprintln(inv.stdout, "Services: not checked (--offline)")
	} else {
		fmt.Fprint(inv.stdout, svcOut.String())
		problems = append(problems, services...)
	}
	printDiskPlans(inv.stdout, cfg)
	if len(problems) == 0 {
		fmt.Fprintln(inv.stdout, "\nOK: no problems found")
		return exitOK
	}
	fmt.Fprintf(inv.stdout, "\n%d problem(s):\n", len(problems))
	for _, p := range problems {
		fmt.Fprintf(inv.stdout, "  %s\n", p)
	}
	return exitFailed
}

// printDiskPlans says who enforces the workspace disk limit, for which
// directory, and why (package disk; btrfs quotas are enabled only by start).
func printDiskPlans(w io.Writer, cfg *config.Config) {
	fmt.Fprintf(w, "\nDisk limit per workspace (--sandbox-disk %s):\n", cfg.Sandbox.Disk.Human())
	for _, p := range disk.NewLimits(disk.SettingsFrom(cfg), zap.NewNop()).Plans() {
		fmt.Fprintf(w, "  %s\n", p)
	}
}

// checkEngine reports the engine's capabilities and the sandbox image.
func checkEngine(w io.Writer, cfg *config.Config) config.Problems {
	engine := func(msg string) config.Problems {
		return config.Problems{{Setting: "docker engine", Message: msg}}
	}
	m, err := sandbox.New(sandbox.Params{Config: cfg})
	if err != nil {
		return engine(err.Error())
	}
	ctx, cancel := context.WithTimeout(context.Background(), engineCheckTimeout)
	defer cancel()
	caps, err := m.Check(ctx)
	defer m.Stop(context.Background())
	fmt.Fprintln(w, "Docker engine:")
	if caps.EngineVersion != "" {
		fmt.Fprintf(w, "  engine %s (API %s), cgroup v%s (%s), runtime %s, seccomp %v\n",
			caps.EngineVersion, caps.APIVersion, caps.CgroupVersion, caps.CgroupDriver, caps.Runtime, yes(caps.Seccomp))
		fmt.Fprintf(w, "  limits enforceable: memory %s, swap %s, cpu %s, pids %s\n",
			yes(caps.MemoryLimit), yes(caps.SwapLimit), yes(caps.CPULimit), yes(caps.PidsLimit))
	}
	var out config.Problems
	if err == nil {
		fmt.Fprintf(w, "  sandbox image %s: present\n", cfg.Sandbox.Image)
	} else {
		for _, line := range strings.Split(err.Error(), "\n") {
			if line = strings.TrimSpace(line); line != "" {
				out = append(out, config.Problem{Setting: "docker engine", Message: line})
			}
		}
	}
	if caps.EngineVersion == "" {
		return out // no engine: nothing more to ask it
	}
	rl, err := relay.New(relay.Params{Config: cfg, Docker: m.Docker()})
	if err == nil {
		err = rl.Check(ctx)
	}
	if err != nil {
		return append(out, config.Problem{Setting: "model relay", Message: err.Error()})
	}
	fmt.Fprintf(w, "  model relay: the sandbox network is %s; the relay can serve turns\n", cfg.Sandbox.Network)
	return out
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
