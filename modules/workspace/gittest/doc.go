// Package gittest builds real git repositories with the git CLI and serves them
// over the smart HTTP protocol (git http-backend behind net/http/cgi) on
// 127.0.0.1, for tests and benchmarks of anything that clones.
//
// A Repo is a bare repository plus a private working clone used to author
// commits; every change is pushed to the bare repository, which is what Serve
// publishes. A Server (Serve, or ServeTLS with a test CA of its own) can
// require a token (Bearer, or Basic with the token as password), takes
// pushes, and records every request it receives with its Authorization
// header (Pushes: the receive-pack POSTs). Everything lives in
// tb.TempDir() or is closed with tb.Cleanup.
//
// It must not be imported by non-test code.
package gittest
