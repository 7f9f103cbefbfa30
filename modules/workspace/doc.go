// Package workspace owns the per-workspace git checkouts the sandboxes work in:
// where they live, how they are cloned, who may use one at a time, and how they
// are deleted.
//
// A workspace is a directory {workspaceDir}/{workspaceId} holding a shallow
// clone (depth 1, single branch) of its repository at a ref, made on the
// workspace's first turn with go-git. Later turns reuse the working tree
// exactly as the agent left it: no fetch, no reset. The workspace's repository
// is recorded in {dataDir}/workspaces/{id}/workspace.json, out of the agent's
// reach, and a turn naming another repository is refused. Next to the record,
// {dataDir}/workspaces/{id}/claude is the agent's persistent state
// (CLAUDE_CONFIG_DIR), so a later turn can resume its session.
//
// Host-side git safety: the runner only ever touches a checkout through
// go-git, which never runs hooks, filters, credential helpers or any command
// configured in a repository, does not recurse into submodules here, and
// writes the worktree through a bound filesystem that refuses to follow
// symlinks out of the checkout. A clone is made in a temporary directory and
// renamed into place, so a crash never leaves a half checkout that looks
// complete. The one exception to "no git binary" is PrepareLocal (the `exec`
// command's local source), which lets go-git run git-upload-pack read-only
// against the operator's own directory; it never writes to it.
//
// Credentials: tokens per host from the configuration (gitTokens,
// CLAUDETTE_GIT_TOKENS: "host=token" or "host=user:token") are given to go-git
// in memory as HTTP Basic auth. They are never written to .git/config, the
// remote URL, the record, a log line or anything the sandbox can see; go-git
// strips them on a redirect that leaves the origin. URLs with embedded
// credentials are refused.
//
// The package validates ids and repository URLs and refs (errors of the
// invalid-argument class, FieldError naming the field). It must not run
// containers, talk JSON-RPC or know about conversations.
package workspace
