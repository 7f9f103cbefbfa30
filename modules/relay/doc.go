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
//     real key, such as message batches or files. It counts requests and
//     model tokens per conversation.
//   - egress.sock, only when sandbox.egressAllow has rules: an HTTP CONNECT
//     and absolute-URI proxy that lets through exact and *.suffix host names,
//     resolves them in the runner and dials only the checked address, never a
//     private, loopback, link-local, CGNAT, multicast, reserved or
//     unspecified one (IPv4 and IPv6).
//
// Inside the sandbox the runner's own binary (copied at start to
// {dataDir}/bin/claudette-runner and mounted read-only; when it is
// dynamically linked, its ELF loader and libraries come along under
// {dataDir}/bin/lib and it runs through that loader: bundle.go) runs as
// `claudette-runner sandbox-shim`: it forwards 127.0.0.1:4141 and :4142 to
// those sockets, runs the agent as its child and stops it at the turn's
// deadline even when no runner watches (RunShim). Start probes the installed
// shim and fails (ErrShim) when it cannot start; ShimReport turns what the
// shim wrote on stderr into words for the turn's answer. The sandbox gets
// ANTHROPIC_BASE_URL=http://127.0.0.1:4141, the turn token, and the proxy
// variables when there are rules; nothing else. Close ends the turn: the
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
