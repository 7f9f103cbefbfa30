package modules_test

import (
	"context"
	"fmt"
	"os"

	"github.com/claudette-dev/claudette-runner/modules"
	"github.com/claudette-dev/claudette-runner/modules/config"
)

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
