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
// # Kept (warm) sandboxes
//
// A Spec with a Keeper (the conversation's turns: the relay's shim binary run
// as `sandbox-shim --keeper`) runs in the workspace's kept sandbox (warm.go,
// keptrun.go, keeper.go). One code path serves cold and warm turns: the
// container's process is always the keeper (KeeperMain), and every turn,
// the first included, is a request to it; only whether the container had to
// be created first differs.
//
//   - Cold: the container is created and started as any sandbox (same limits,
//     hardening, mounts, contract labels, network none) with the keeper as
//     its command, no environment of a turn, and {dataDir}/run/sandboxes/<ws
//     hash>/keeper mounted at KeeperDir; labels add the keeper mark and the
//     hash of everything it was started with (specHash: the image id, every
//     sandbox setting, the keeper command, the network, the checkout and each
//     mount with the device and inode of its source and of its mount point in
//     the checkout). Its message-id label names the turn that started it.
//   - Each turn: the runner records it (turn.json: message, the turn's name,
//     deadline, the cgroup's counters before it), creates the turn's output
//     and status files in a directory no sandbox mounts, and asks the keeper
//     over its Unix socket to run Spec.Cmd with Spec.Env over the image's
//     environment in /workspace, passing three open files (SCM_RIGHTS): the
//     prompt file as stdin, the output file and the status file. A command
//     line that is the relay's shim (KeeperPrepare) is not started as a
//     process of its own: the keeper serves the shim's forwarders for the
//     turn and enforces its deadline itself, and starts the agent directly
//     (the runner's binary starting on every turn cost ~8 ms). The keeper
//     runs the command in a process group of its own and frames its stdout
//     and stderr into the output file (the engine's multiplexed format), which
//     the runner reads as it grows (tail.go, woken by inotify: notify.go) with
//     the same stream, caps and line handling as an attach. None of these
//     files is synced: no container outlives the machine, and a restarted
//     runner reads them from the page cache. When the command exits the keeper kills
//     every other process of the container (kill(-1) until /proc shows none:
//     daemons escape process groups), empties /tmp and /dev/shm, writes the
//     exit to the status file, and answers the runner's wait.
//   - The end of a turn: the Status is the keeper's exit code with the kill
//     reasons of the cgroup's counters during the turn (oom_kill and
//     pids.events max after minus before), so an OOM kill says "killed:
//     memory limit 2 GiB reached" though the container lives on. Timeout,
//     cancel and the output limit ask the keeper to stop the turn (SIGTERM to
//     its group, the grace, then every process killed); only a keeper that
//     does not answer gets the container stopped (it is not reused).
//   - Warm: once the caller has recorded the turn's end it calls Remove; the
//     sandbox then stays idle for sandbox.idle (a timer; the keeper blocks in
//     accept: no CPU), and the workspace's next turn with the same hash runs
//     in it with no create or start. It is removed when the idle time ends,
//     when the next turn's hash differs (an image, setting or mount changed,
//     the .git mount point was made again), when its keeper does not answer
//     the turn's request (removed, died, engine restarted: that turn starts
//     a cold one, unless its output shows it began), at RemoveWorkspace, at
//     Stop, and at once with sandbox.idle 0. Remove names the turn: a kept
//     sandbox that serves another turn since (a recovered answer sent again
//     while the workspace's next turn re-attached to it) is left alone. The
//     engine's answers about the image (presence, id) are shared by the
//     turns that ask at once (flight.go). Metrics: claudette_sandbox_turn_starts_total{start},
//     claudette_sandbox_idle, claudette_sandbox_evictions_total{reason}.
//   - Re-attach: after a restart a kept sandbox is a Leftover naming the
//     turn of its turn.json; Attach reads the output file again from its
//     start, skipping the lines delivered, and waits for the keeper (or reads
//     the status file). A turn recorded but never asked for ends at once with
//     KeeperExitNotStarted, so the caller runs it again. A kept sandbox
//     that nothing took up after a restart and that still holds the
//     workspace's container name is removed when the workspace's next turn
//     starts one (orphanedBox, with a warning).
//   - Isolation: the keeper accepts only peers of another uid than its own
//     (the runner, never the agent), is not dumpable (no ptrace of it), and
//     the runner's turn files are not in the sandbox. The relay's sockets of
//     a turn live in the workspace's RelayDir, mounted at /run/claudette from
//     the start; the relay creates them for each turn with a new token and
//     removes them at its end, so a turn's token dies with it. What stays
//     between two turns of a workspace is what stays between two cold ones:
//     the checkout and the agent state (and the keeper dir, which holds only
//     the keeper's socket).
//
// With sandbox.idle 0 the keeper exits after its one turn (the container
// ends with it, as a sandbox of its own does) and is removed once released.
// A runtime that cannot run the keeper (gVisor cannot listen on a socket of
// a host directory) is noticed at the first start: from then on each turn
// gets a container of its own, with a warning. A new sandbox whose keeper
// dies while starting its first turn (its Go runtime cannot get a thread
// under a tiny process limit) gives that turn a container of its own, so the
// turn fails or succeeds as it would have without keeping; the keeper's own
// words ("runtime: failed to create new OS thread …") join every error of a
// lost keeper.
//
// A Spec without a Keeper runs in a container of its own, as described above.
//
// It owns the containers labelled with its runner id and nothing else: it
// must not touch git checkouts' content, conversations, the orchestrator or
// containers of other runners, and never mounts the Docker socket or any
// host path it was not given. Which image may run and its pulling belong to
// package images. All network decisions live in network.go.
package sandbox
