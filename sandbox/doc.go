// Package sandbox runs one hardened, resource-limited Docker container per
// workspace on the real engine: it builds the container from a Spec (image,
// command, env, the checkout at /workspace, extra binds, limits and
// hardening from the configuration, the contract labels), writes the prompt
// to stdin (or has the command read a read-only prompt file, Spec.StdinFile,
// which survives a crash of the runner), streams stdout as capped lines with a bounded stderr tail,
// enforces the turn timeout and the output limit, stops with SIGTERM, a
// grace period and SIGKILL, removes the container (or keeps the ended one
// until its caller has recorded the end and calls Remove: Spec.Keep), and
// says honestly why the run ended. At start it probes what the engine can enforce (and refuses
// to start when it cannot), checks the runtime, and reconciles the
// containers a previous process left (running or exited turns stay for
// Attach, which follows one of them again from a given line). When the runner
// itself runs in a container of the same engine (Docker-out-of-Docker), the
// start also checks that the workspace and data dirs are same-path bind
// mounts, since the binds it asks the engine for are resolved on the host
// (selfcheck.go). It also prepares and removes the host directories the agent
// writes to (PrepareDir, RemoveTree). The writable directory binds (the
// checkout, the agent state) reach the sandbox nosuid,nodev: the engine has
// no such bind option, so each is bound onto itself with those flags on the
// host while the container starts, and unbound right after (nosuid.go).
//
// It owns the containers labelled with its runner id and nothing else: it
// must not touch git checkouts' content, conversations, the orchestrator or
// containers of other runners, and never mounts the Docker socket or any
// host path it was not given. Which image may run and its pulling belong to
// package images. All network decisions live in network.go.
package sandbox
