package modules_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/claudette-dev/claudette-runner/images/demo/demotest"
	"github.com/claudette-dev/claudette-runner/modules"
	"github.com/claudette-dev/claudette-runner/modules/config"
)

// sandboxImage is the image the example's sandboxes would run: any image on
// the engine, e.g. claudette/sandbox-demo:latest from `make demo-image`. The
// tests use their own copy of that offline image.
var sandboxImage = "claudette/sandbox-demo:latest"

func TestMain(m *testing.M) {
	modules.ShimMain() // this test binary is the sandboxes' shim, as in any program that embeds the runner
	tag, err := demotest.Build()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sandboxImage = tag
	demotest.Main(m)
}

// Embed the runner in another Go program: the same configuration chain as the
// CLI (file, environment, overrides), then Start and a graceful Stop.
func Example() {
	dir, _ := os.MkdirTemp("", "runner-example-")
	defer os.RemoveAll(dir)

	cfg, err := config.Load(config.Sources{
		LookupEnv: func(string) (string, bool) { return "", false }, // ignore this process's environment
		Overrides: map[string]string{
			"dataDir":         dir + "/data",
			"workspaceDir":    dir + "/workspaces",
			"listen":          "127.0.0.1:0",
			"runnerToken":     "example-token",
			"electricUrl":     "http://127.0.0.1:1",
			"orchestratorUrl": "http://127.0.0.1:1/rpc",
			"sandbox.image":   sandboxImage,
		},
	})
	if err != nil {
		fmt.Println(err) // config.Problems: one line per problem
		return
	}
	if problems := cfg.Validate(); len(problems) > 0 {
		fmt.Println(problems)
		return
	}
	app, err := modules.New(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	if err := app.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("runner started")
	if err := app.Stop(ctx); err != nil { // graceful, as on SIGTERM
		fmt.Println(err)
		return
	}
	fmt.Println("runner stopped")
	// Output:
	// runner started
	// runner stopped
}
