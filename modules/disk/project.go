package disk

import (
	"fmt"
	"hash/fnv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Project quotas (XFS, or ext4 with the project feature and prjquota), set
// through FS_IOC_FSSETXATTR and quotactl_fd(2) (Linux 5.14): the runner image
// has no xfs_quota.
const (
	fsIocFsGetXattr     = 0x801c581f // _IOR('X', 31, struct fsxattr)
	fsIocFsSetXattr     = 0x401c5820 // _IOW('X', 32, struct fsxattr)
	fsXflagProjInherit  = 0x00000200
	prjQuota            = 2 // PRJQUOTA
	qGetInfo            = 0x800005
	qGetQuota           = 0x800007
	qSetQuota           = 0x800008
	qifBlimits          = 1 // QIF_BLIMITS
	qifDqblkSize        = 1024
	projectIDBase       = 0x40000000 // project ids the runner gives: 2^30 and up
	projectIDMask       = 0x3fffffff
	quotactlFdSyscallNr = unix.SYS_QUOTACTL_FD
)

type fsxattr struct {
	xflags     uint32
	extsize    uint32
	nextents   uint32
	projid     uint32
	cowextsize uint32
	pad        [8]byte
}

type ifDqblk struct {
	bhardlimit uint64
	bsoftlimit uint64
	curspace   uint64
	ihardlimit uint64
	isoftlimit uint64
	curinodes  uint64
	btime      uint64
	itime      uint64
	valid      uint32
	_          uint32
}

type ifDqinfo struct {
	bgrace uint64
	igrace uint64
	flags  uint32
	valid  uint32
}

func qcmd(cmd, typ uint32) uintptr { return uintptr(cmd<<8 | typ&0xff) }

func quotactlFd(fd int, cmd uint32, id uint32, addr unsafe.Pointer) error {
	// QCMD(cmd, type) = cmd<<8 | type (linux/quota.h).
	_, _, errno := unix.Syscall6(quotactlFdSyscallNr, uintptr(fd), qcmd(cmd, prjQuota), uintptr(id), uintptr(addr), 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// projectQuotaOn reports whether project quotas are enforced on the file
// system of dir, and the kernel's answer when they are not.
func projectQuotaOn(dir string) error {
	fd, err := openDir(dir)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var info ifDqinfo
	switch err := quotactlFd(fd, qGetInfo, 0, unsafe.Pointer(&info)); err {
	case nil:
		return nil
	case unix.ENOSYS:
		return fmt.Errorf("the kernel has no quota support (quotactl_fd: %w)", err)
	case unix.ESRCH:
		return fmt.Errorf("project quotas are not on (mount with prjquota or pquota): %w", err)
	default:
		return fmt.Errorf("quotactl_fd: %w", err)
	}
}

// projectID is the project id of workspace id: fixed by its name, so a
// restarted runner finds it again. Two names may share one (about n²/2^31 for
// n workspaces); they then share a limit.
func projectID(id string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(id))
	return projectIDBase | h.Sum32()&projectIDMask
}

// setProject gives dir project id and the inherit flag, so everything made
// under it later belongs to the project.
func setProject(dir string, id uint32) error {
	fd, err := openDir(dir)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var x fsxattr
	if err := ioctlPtr(fd, fsIocFsGetXattr, unsafe.Pointer(&x)); err != nil {
		return fmt.Errorf("get project of %s: %w", dir, err)
	}
	x.projid, x.xflags = id, x.xflags|fsXflagProjInherit
	if err := ioctlPtr(fd, fsIocFsSetXattr, unsafe.Pointer(&x)); err != nil {
		return fmt.Errorf("set project of %s: %w", dir, err)
	}
	return nil
}

// projectOf is dir's project id, 0 when it has none or no inherit flag.
func projectOf(dir string) (uint32, error) {
	fd, err := openDir(dir)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	var x fsxattr
	if err := ioctlPtr(fd, fsIocFsGetXattr, unsafe.Pointer(&x)); err != nil {
		return 0, fmt.Errorf("get project of %s: %w", dir, err)
	}
	if x.xflags&fsXflagProjInherit == 0 {
		return 0, nil
	}
	return x.projid, nil
}

// projectLimit sets the block hard limit of project id on the file system of
// dir; 0 removes it.
func projectLimit(dir string, id uint32, limit int64) error {
	fd, err := openDir(dir)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	q := ifDqblk{bhardlimit: uint64((limit + qifDqblkSize - 1) / qifDqblkSize), valid: qifBlimits}
	if err := quotactlFd(fd, qSetQuota, id, unsafe.Pointer(&q)); err != nil {
		return fmt.Errorf("limit project %d on %s: %w", id, dir, err)
	}
	return nil
}
