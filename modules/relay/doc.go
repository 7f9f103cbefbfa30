// Package relay owns a sandbox's only ways out of its network namespace, one
// turn at a time, and the real model credential that must never enter it.
//
// Every sandbox runs with the engine's network mode "none" (loopback only:
// no route to the internet, the host, other sandboxes, private ranges, the
// cloud metadata address or IPv6), unless the operator chose
// --sandbox-network open (the engine's default bridge; a warning at every
// sandbox start). For each turn Open creates {dataDir}/run/turns/<hash of the
// message id>/ with Unix sockets the runner listens on, bind-mounted
// read-only into the sandbox at /run/claudette:
//
//   - model.sock: the model relay. It accepts a request only with the turn's
//     random token (x-api-key or Authorization: Bearer), swaps in the real
//     ANTHROPIC_API_KEY / ANTHROPIC_AUTH_TOKEN, forwards to the configured
//     base URL (default the public API) and streams the SSE response through,
//     flushing every write. Only the endpoints a turn needs are relayed
//     (messages, token counts, models): nothing that outlives the turn on the
//     real key, such as message batches or files. It is the turn's meter
//     (meter.go, usage.go): it reads the usage of every Messages answer as it
//     passes (message_start and message_delta of a stream, the usage of a
//     JSON body), per model id, never holding a stream back; a refused or
//     cut request counts with no tokens (its model from the request's
//     top-level "model", sniff.go). Access.Usage is the turn's count (the
//     result's `relay`, with costUsd from the operator's prices, prices.go).
//     Budgets (budget tokens: input + output + cache creation; dollars with
//     prices) per turn and per conversation: once one is reached the next
//     request is answered 429 in the API's error shape, a budget_exhausted
//     runner event is raised once and Turn.Meter.Stop ends the turn. The
//     counts before the turn (a re-opened turn's, the conversation's) come
//     from the caller, who persists them. Metrics per conversation, model
//     and kind, dropped with the workspace (ForgetWorkspace) or an hour
//     after the conversation's last turn.
//   - egress.sock, only when sandbox.egressAllow has rules: an HTTP CONNECT
//     and absolute-URI proxy that lets through exact and *.suffix host names
//     on the rule's port (443 and 80 when it names none),
//     resolves them in the runner and dials only the checked address, never a
//     private, loopback, link-local, CGNAT, multicast, reserved or
//     unspecified one (IPv4 and IPv6). Every refusal is an egress_refused
//     runner event {host, port, reason}, once per host and reason per turn.
//   - git.sock, only when the turn names a repository (Turn.Git): the git
//     relay (git.go). It serves smart HTTP of that one repository under
//     /origin.git (info/refs of git-upload-pack or git-receive-pack and their
//     POSTs; nothing else, 403) to the live turn's token only (401), and
//     forwards it to the recorded origin with the runner's credential for
//     the host (config.GitCredential; gitupstream.go), streaming both ways,
//     following no redirect. A local origin (exec --repo) is served by
//     go-git's server side in-process (gitlocal.go): no git process, no hook.
//     Pushes are read first (gitpktline.go) and checked (gitpolicy.go): only
//     refs/heads/<Turn.Git.Branch>, created or updated, when the branch
//     matches --git-push-branches, within --git-push-max-size; otherwise the
//     whole push is refused with a receive-pack report git prints as
//     "[remote rejected]". The host's result is parsed as it streams back:
//     a git_push event per accepted ref (the conversation keeps the last), a
//     git_push_refused per refused one.
//
// Inside the sandbox the runner's own binary (copied at start to
// {dataDir}/bin/claudette-runner and mounted read-only; when it is
// dynamically linked, its ELF loader and libraries come along under
// {dataDir}/bin/lib and it runs through that loader: bundle.go) runs as
// `claudette-runner sandbox-shim`: it forwards 127.0.0.1:4141, :4142 and
// :4143 to those sockets, runs the agent as its child and stops it at the
// turn's deadline even when no runner watches (RunShim). Start probes the
// installed shim and fails (ErrShim) when it cannot start; ShimReport turns
// what the shim wrote on stderr into words for the turn's answer. The sandbox
// gets ANTHROPIC_BASE_URL=http://127.0.0.1:4141, the turn token, the proxy
// variables when there are rules, and with a repository the git config
// variables (GIT_CONFIG_COUNT/KEY_n/VALUE_n: origin's URL rewritten to the
// relay, the turn token as a bearer header for it) and GIT_TERMINAL_PROMPT=0;
// nothing else. Close ends the turn: the
// listeners and every connection close, the token is refused from then on
// and the directory is removed. A turn re-attached after a restart is opened
// again with the token it had (the conversation keeps it).
//
// Fail closed: when the binary, the sockets or the runtime cannot carry the
// relay, Open returns an error and the caller must not start the sandbox.
//
// It must not run containers, read conversations or the orchestrator, log a
// header, a body or a credential, or offer any switch that lets a sandbox
// reach a private address.
package relay
