// Command agent is a fake Claude Code CLI (2.1.330) for offline tests and the
// demo image, where it is installed as /usr/local/bin/claude. It behaves like
// the real CLI at its process boundary, as captured in shared/claude-cli and
// in testdata/: flags and usage errors, the root refusal, text/json/
// stream-json output, --input-format stream-json with control requests,
// session transcripts under $CLAUDE_CONFIG_DIR/projects with --session-id,
// --resume, --continue and --fork-session, SIGTERM (143) and SIGINT (0),
// and exit codes. It calls no model: a prompt is answered
// "Mock reply: <prompt>", and every prompt line starting with "PROBE " runs
// as a Bash tool call that inspects the sandbox (probes.go and
// ../README.md list them); a resumed session's answer names the turn number
// and the previous prompt.
//
// It uses the standard library only and must stay a static binary; it owns
// nothing outside its own process, files it is asked to write and its
// session transcripts.
package main
