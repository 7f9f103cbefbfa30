package disk

import (
	"fmt"
	"os"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The btrfs ioctls the runner uses (linux/btrfs.h); the runner image has no
// btrfs tool.
const (
	btrfsIocSubvolCreate = 0x5000940e // _IOW(0x94, 14, struct btrfs_ioctl_vol_args)
	btrfsIocSnapDestroy  = 0x5000940f // _IOW(0x94, 15, struct btrfs_ioctl_vol_args)
	btrfsIocInoLookup    = 0xd0009412 // _IOWR(0x94, 18, struct btrfs_ioctl_ino_lookup_args)
	btrfsIocQuotaCtl     = 0xc0109428 // _IOWR(0x94, 40, struct btrfs_ioctl_quota_ctl_args)
	btrfsIocQgroupCreate = 0x4010942a // _IOW(0x94, 42, struct btrfs_ioctl_qgroup_create_args)
	btrfsIocQgroupLimit  = 0x8030942b // _IOR(0x94, 43, struct btrfs_ioctl_qgroup_limit_args)

	btrfsQuotaCtlEnable   = 1
	btrfsQgroupLimitRfer  = 1 << 0 // BTRFS_QGROUP_LIMIT_MAX_RFER
	btrfsFirstFreeObject  = 256    // the inode number of a subvolume's root directory
	btrfsVolNameMax       = 4087
	btrfsInoLookupPathMax = 4080
)

type btrfsVolArgs struct {
	fd   int64
	name [btrfsVolNameMax + 1]byte
}

type btrfsInoLookupArgs struct {
	treeID   uint64
	objectID uint64
	name     [btrfsInoLookupPathMax]byte
}

type btrfsQuotaCtlArgs struct {
	cmd    uint64
	status uint64
}

type btrfsQgroupCreateArgs struct {
	create   uint64
	qgroupID uint64
}

type btrfsQgroupLimitArgs struct {
	qgroupID uint64
	flags    uint64
	maxRfer  uint64
	maxExcl  uint64
	rsvRfer  uint64
	rsvExcl  uint64
}

func ioctlPtr(fd int, req uint, arg unsafe.Pointer) error {
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(arg)); errno != 0 {
		return errno
	}
	return nil
}

// openDir opens dir itself, refusing a symlink.
func openDir(dir string) (int, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	return fd, nil
}

// btrfsEnableQuota turns quotas (qgroups) on for the file system of dir; it
// is a no-op when they are on already.
func btrfsEnableQuota(dir string) error {
	fd, err := openDir(dir)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	args := btrfsQuotaCtlArgs{cmd: btrfsQuotaCtlEnable}
	if err := ioctlPtr(fd, btrfsIocQuotaCtl, unsafe.Pointer(&args)); err != nil {
		return fmt.Errorf("enable btrfs quotas on %s: %w", dir, err)
	}
	return nil
}

// btrfsCreateSubvolume makes path a new, empty subvolume (its parent must exist).
func btrfsCreateSubvolume(path string) error {
	return btrfsVolIoctl(path, btrfsIocSubvolCreate, "create")
}

// btrfsDestroySubvolume deletes the subvolume at path with everything in it.
func btrfsDestroySubvolume(path string) error {
	return btrfsVolIoctl(path, btrfsIocSnapDestroy, "delete")
}

// btrfsVolIoctl runs a subvolume ioctl that names path's last element
// relative to its parent directory.
func btrfsVolIoctl(path string, req uint, verb string) error {
	parent, name := filepath.Split(filepath.Clean(path))
	if len(name) > btrfsVolNameMax {
		return fmt.Errorf("%s subvolume %s: name too long", verb, path)
	}
	fd, err := openDir(parent)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var args btrfsVolArgs
	copy(args.name[:], name)
	if err := ioctlPtr(fd, req, unsafe.Pointer(&args)); err != nil {
		return fmt.Errorf("%s subvolume %s: %w", verb, path, err)
	}
	return nil
}

// btrfsSubvolumeID is the tree id of the subvolume dir is the root of; ok is
// false when dir is not a subvolume root.
func btrfsSubvolumeID(dir string) (id uint64, ok bool, err error) {
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return 0, false, &os.PathError{Op: "lstat", Path: dir, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR || st.Ino != btrfsFirstFreeObject {
		return 0, false, nil
	}
	fd, err := openDir(dir)
	if err != nil {
		return 0, false, err
	}
	defer unix.Close(fd)
	args := btrfsInoLookupArgs{objectID: btrfsFirstFreeObject}
	if err := ioctlPtr(fd, btrfsIocInoLookup, unsafe.Pointer(&args)); err != nil {
		return 0, false, fmt.Errorf("look up subvolume of %s: %w", dir, err)
	}
	return args.treeID, true, nil
}

// btrfsLimit sets the referenced-bytes limit of the subvolume dir is the root
// of (its level-0 qgroup); 0 removes the limit.
func btrfsLimit(dir string, limit int64) error {
	fd, err := openDir(dir)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	args := btrfsQgroupLimitArgs{flags: btrfsQgroupLimitRfer, maxRfer: uint64(limit)}
	if limit <= 0 {
		args.maxRfer = ^uint64(0) // no limit
	}
	// qgroupID 0: the qgroup of the subvolume fd is in.
	if err := ioctlPtr(fd, btrfsIocQgroupLimit, unsafe.Pointer(&args)); err != nil {
		return fmt.Errorf("limit subvolume %s: %w", dir, err)
	}
	return nil
}

// btrfsRemoveQgroup removes the level-0 qgroup of a deleted subvolume; ENOENT
// (the kernel removed it with the subvolume) is not an error. The kernel
// refuses (EBUSY) while the subvolume's extents are still being dropped: the
// caller may leave it, an empty stale qgroup limits nothing.
func btrfsRemoveQgroup(parent string, id uint64) error {
	fd, err := openDir(parent)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	args := btrfsQgroupCreateArgs{create: 0, qgroupID: id}
	if err := ioctlPtr(fd, btrfsIocQgroupCreate, unsafe.Pointer(&args)); err != nil && err != unix.ENOENT {
		return fmt.Errorf("remove qgroup 0/%d: %w", id, err)
	}
	return nil
}
