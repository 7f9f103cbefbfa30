// Package bench is the runner's benchmark suite (`make bench`): it measures
// the real daemon binary, as a process, against the real Docker engine, side
// by side with the Docker CLI doing the same work in the same run, and writes
// a table (stdout) and bench/results.json.
//
// The scenarios are Go benchmarks in this package's _test.go files, so the
// normal test command compiles and vets them but never runs them; `make
// bench` runs them once each (-benchtime=1x: one benchmark operation is one
// whole scenario, with its own sample count, warm-up and medians). They
// report their key figures with b.ReportMetric too, so repeated runs
// (-count=N) can be compared with benchstat. The harness lives in the
// non-test files: statistics, /proc sampling, a recording orchestrator that
// timestamps every item, a tracing proxy in front of the engine's socket, the
// Docker CLI baseline, and the results table.
//
// The fakes on the other side of the wire (Electric, the git server, the
// demo agent image) are the test packages of the project: electrictest,
// gittest, demotest. The package owns nothing of the runner and must not be
// imported by it.
package bench
