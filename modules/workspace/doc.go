// Package workspace owns the per-workspace git checkouts the sandboxes work in:
// where they live, how they are cloned, who may use one at a time, and how they
// are deleted.
//
// A workspace is a directory {workspaceDir}/{workspaceId} holding the
// worktree of a shallow clone (depth 1, single branch) of its repository at a
// ref, made on the workspace's first turn with go-git. Later turns reuse the
// working tree exactly as the agent left it: no fetch, no reset. The
// workspace's repository and the commit it was checked out at (the report's
// base) are recorded in {dataDir}/workspaces/{id}/workspace.json, out of the
// agent's reach, and a turn naming another repository is refused. Next to the
// record, {dataDir}/workspaces/{id}/claude is the agent's persistent state
// (CLAUDE_CONFIG_DIR), so a later turn can resume its session.
//
// The git state is the runner's (gitdir.go). The git dir is
// {dataDir}/workspaces/{id}/git; the checkout's .git is an empty directory,
// the mount point over which the sandbox gets the git dir read-write
// (Checkout.GitDir), and over that config, hooks and info read-only
// (Checkout.GitReadOnly: created when missing, owned by the runner, never
// symlinks). A mount point cannot be renamed or removed from inside, so the
// agent cannot swap in a .git of its own; what it can write in the git dir
// that git reads as configuration or redirection (commondir, gitdir,
// config.worktree, info/attributes, objects/info/alternates, any symlink or
// special file) is removed by secureGit, without following symlinks, at every
// Prepare and before every host-side operation (CheckoutBranch, Report,
// Commit, Push). A .git in the checkout that is not an empty directory (the
// agent made it a file, a symlink, a directory of its own while unmounted) is
// removed, never followed, and recreated: the real state is safe in the data
// dir. The checkout on the host is not a git repository at all, so a
// person's git there finds nothing to run. A workspace made before this
// layout (a real .git in the checkout, record without gitDir) is migrated on
// its next use: its .git is moved (renamed, or copied and removed across file
// systems, symlinks dropped) to the data dir with the runner's config (from
// the record) and no hooks; one whose .git is no longer a directory cannot be
// migrated and is refused (failed precondition) saying so and that
// workspace.delete starts over. A clone is made straight into this layout:
// go-git storage on the (temporary) git dir, worktree on the (temporary)
// checkout, both bound filesystems; go-git's .git file and core.worktree are
// replaced by the mount point and the runner's config.
//
// The conversation's branch (branch.go): CheckoutBranch checks out
// repository.branch for a turn: kept when checked out, switched to when it
// exists locally, fetched shallow with the runner's credential when it exists
// only on the remote, else created at the recorded commit. Switching needs a
// clean worktree: uncommitted changes (left by another conversation, or by an
// agent that switched branches itself) are neither carried nor discarded; the
// turn fails as a checkout failure naming the branch holding them and what to
// do (commit them in that conversation, push "always", or delete the
// workspace).
//
// After a turn: Report (gitreport.go) is the result's git, from base to the
// working tree with go-git only (untracked non-ignored files count, binary
// files count with 0 lines, symlinks by their target text, no rename
// detection). Commit (commit.go) stages like `git add --all` through the
// bound filesystem (a path under a directory turned into a symlink leaves the
// index; the symlink is committed as a symlink) and commits with gitAuthor;
// Push (push.go) pushes refs/heads/B:refs/heads/B, never forced, to the
// recorded URL with the runner's credential, when B matches gitPushBranches.
// What the runner wrote in the git dir or worktree is handed back to the
// sandbox user.
//
// Redirects: the runner's go-git HTTP transport (process wide, transport.go)
// follows a redirect only within the repository's scheme, host and port.
//
// Host-side git safety: the runner only ever touches a repository through
// go-git, which never runs hooks, filters, credential helpers or any command
// configured in a repository, does not recurse into submodules here, and
// reads and writes the worktree and the git dir through bound filesystems
// that refuse to follow symlinks out of them. A clone is made in a temporary directory and
// renamed into place, so a crash never leaves a half checkout that looks
// complete. The one exception to "no git binary" is PrepareLocal (the `exec`
// command's local source), which lets go-git run git-upload-pack read-only
// against the operator's own directory; it never writes to it.
//
// Credentials: tokens per host from the configuration (gitTokens,
// CLAUDETTE_GIT_TOKENS: "host=token" or "host=user:token") are given to go-git
// in memory as HTTP Basic auth. They are never written to .git/config, the
// remote URL, the record, a log line or anything the sandbox can see; go-git
// strips them on a redirect that leaves the origin, and the runner follows
// none that leaves it (above). URLs with embedded
// credentials are refused.
//
// The package validates ids, repository URLs and refs, repository.branch
// (git check-ref-format rules) and repository.push (errors of the
// invalid-argument class, FieldError naming the field). It must not run
// containers, talk JSON-RPC or know about conversations.
package workspace
