// Package disk owns how much disk a workspace may use and how much the machine
// keeps free.
//
// A workspace's disk is its checkout ({workspaceDir}/{id}) and its state under
// the data dir ({dataDir}/workspaces/{id}: the agent state and the runner's git
// dir). The limit (--sandbox-disk) is enforced by the file system where it can
// be and by the runner where it cannot:
//
//   - btrfs: the checkout is a subvolume of its own with a qgroup limit
//     (quotas are enabled on the file system at start). A write past the limit
//     fails inside the sandbox with "Disk quota exceeded".
//   - XFS or ext4 mounted with project quotas: the checkout gets a project id
//     of its own (inherited by everything created in it) with a block hard
//     limit. Same failure inside the sandbox.
//   - anything else, and always for the state dir: the Watcher measures the
//     workspace while its turn runs (inotify on every directory, a stat only of
//     what changed; allocated blocks, hard links once, symlinks never
//     followed) and, when checkout and state together pass the limit, the turn
//     is stopped with "killed: disk limit 10 GiB". Where the file system caps
//     the checkout at the limit, the runner allows 5% (at least 4 MiB) more
//     for the state before it stops the turn, so a full checkout alone only
//     makes the agent's writes fail.
//
// The Watcher reports every workspace's usage (runner.ping, metrics) and the
// moment the limit is hit, in either mode. The Floor watches free space on the
// workspace and data file systems (--min-free-disk) and closes the gate new
// turns wait at while either has less.
//
// The package measures and sets limits; it never decides what a turn does
// (modules/conversation does) and never removes a workspace's files beyond
// its subvolume or project (modules/workspace removes the trees).
package disk
