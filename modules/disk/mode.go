package disk

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Mode is who enforces the disk limit of a directory.
type Mode string

const (
	// ModeNone: no limit (--sandbox-disk 0).
	ModeNone Mode = "none"
	// ModeBtrfs: the file system, a subvolume per workspace with a qgroup limit.
	ModeBtrfs Mode = "btrfs-qgroup"
	// ModeProject: the file system, a project id per workspace with a quota.
	ModeProject Mode = "project-quota"
	// ModeRunner: the runner measures and stops the turn.
	ModeRunner Mode = "runner"
)

// Plan is how one directory's share of a workspace's disk is limited, and why.
type Plan struct {
	Dir  string
	Mode Mode
	Why  string
}

func (p Plan) String() string { return fmt.Sprintf("%s: %s (%s)", p.Dir, p.Mode, p.Why) }

// fsName names a file system type for messages.
func fsName(magic int64) string {
	switch magic {
	case unix.BTRFS_SUPER_MAGIC:
		return "btrfs"
	case unix.XFS_SUPER_MAGIC:
		return "xfs"
	case unix.EXT4_SUPER_MAGIC:
		return "ext4"
	case unix.TMPFS_MAGIC:
		return "tmpfs"
	case unix.OVERLAYFS_SUPER_MAGIC:
		return "overlayfs"
	case unix.NFS_SUPER_MAGIC:
		return "nfs"
	}
	return fmt.Sprintf("file system 0x%x", magic)
}

// probe decides, without changing anything, who enforces the limit for the
// checkouts under root.
func probe(root string, limit int64) Plan {
	if limit <= 0 {
		return Plan{Dir: root, Mode: ModeNone, Why: "--sandbox-disk 0"}
	}
	var st unix.Statfs_t
	if err := unix.Statfs(root, &st); err != nil {
		return Plan{Dir: root, Mode: ModeRunner, Why: fmt.Sprintf("statfs: %v", err)}
	}
	name := fsName(int64(st.Type))
	switch int64(st.Type) {
	case unix.BTRFS_SUPER_MAGIC:
		return Plan{Dir: root, Mode: ModeBtrfs, Why: "btrfs: a subvolume per workspace with a qgroup limit"}
	case unix.XFS_SUPER_MAGIC, unix.EXT4_SUPER_MAGIC:
		if err := projectQuotaOn(root); err != nil {
			return Plan{Dir: root, Mode: ModeRunner, Why: name + " without project quotas: " + err.Error()}
		}
		return Plan{Dir: root, Mode: ModeProject, Why: name + " with project quotas: a project id per workspace"}
	}
	return Plan{Dir: root, Mode: ModeRunner, Why: name + " cannot limit a directory (use btrfs, or xfs/ext4 with project quotas)"}
}
