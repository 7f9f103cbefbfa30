// Package modules composes the runner's fx graph and exposes it as an App that
// a Go program can embed; the claudette-runner CLI uses the same App, so the two
// cannot drift apart.
//
// The flow of one message: sync (Electric intake) -> handler (JSON-RPC methods)
// -> conversation (workspace checkout + sandbox run) -> reporter (JSON-RPC to
// the orchestrator). Each package owns one step and exposes an fx Module; this
// package only wires them. It holds no logic of its own.
//
// Embedding:
//
//	modules.ShimMain()                       // first in main: inside a sandbox this binary is the shim
//	cfg, err := config.Load(config.Sources{File: "runner.json"})
//	if err != nil { ... }                    // config.Problems: one line per problem
//	if problems := cfg.Validate(); len(problems) > 0 { ... }
//	app, err := modules.New(cfg)
//	if err != nil { ... }
//	if err := app.Start(ctx); err != nil { ... }
//	...
//	err = app.Stop(ctx)                      // graceful, as on SIGTERM
package modules
