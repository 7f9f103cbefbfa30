package disk

import (
	"errors"
	"path"
	"strconv"

	"golang.org/x/sys/unix"
)

// tree is the disk use of one directory tree, kept current by the events of
// an inotify instance: the whole tree is read once, then only the entries an
// event names are looked at again. It counts allocated blocks (st_blocks*512),
// each inode once however many links it has, never follows a symlink (every
// directory is opened beneath the root with RESOLVE_NO_SYMLINKS) and stays on
// the root's file system.
type tree struct {
	root   string
	rootFd int
	dev    uint64
	ino    *inotify
	dirs   map[int]*dirNode // by watch descriptor
	top    *dirNode
	inodes map[uint64]*inodeUse
	sparse map[uint64]sparseRef // files with holes: looked at on every refresh
	used   int64
	broken bool // a watch could not be added: measured in full on every refresh
}

type dirNode struct {
	parent *dirNode
	name   string
	wd     int
	ino    uint64
	blocks int64
	files  map[string]uint64   // name -> inode
	subs   map[string]*dirNode // name -> directory
	dirty  map[string]struct{} // names an event mentioned since the last refresh
	rescan bool                // read the whole directory again
}

type inodeUse struct {
	bytes int64
	refs  int
}

type sparseRef struct {
	dir  *dirNode
	name string
}

const watchMask = unix.IN_CREATE | unix.IN_DELETE | unix.IN_MODIFY | unix.IN_ATTRIB | unix.IN_MOVED_FROM |
	unix.IN_MOVED_TO | unix.IN_CLOSE_WRITE | unix.IN_DELETE_SELF | unix.IN_ONLYDIR | unix.IN_EXCL_UNLINK

func newTree(root string, ino *inotify) (*tree, error) {
	fd, err := openDir(root)
	if err != nil {
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, err
	}
	t := &tree{root: root, rootFd: fd, dev: st.Dev, ino: ino}
	t.reset()
	return t, nil
}

// reset forgets everything and reads the whole tree again.
func (t *tree) reset() {
	if t.dirs != nil {
		for wd := range t.dirs {
			t.ino.remove(wd, t)
		}
	}
	t.dirs, t.inodes, t.sparse, t.used, t.broken = map[int]*dirNode{}, map[uint64]*inodeUse{}, map[uint64]sparseRef{}, 0, false
	t.top = &dirNode{name: ".", wd: -1}
	t.scanDir(t.top)
}

func (t *tree) close() {
	for wd := range t.dirs {
		t.ino.remove(wd, t)
	}
	t.dirs = nil
	unix.Close(t.rootFd)
}

func (n *dirNode) rel() string {
	if n.parent == nil {
		return "."
	}
	return path.Join(n.parent.rel(), n.name)
}

// openBeneath opens directory rel of the tree, refusing symlinks anywhere on
// the way and other file systems.
func (t *tree) openBeneath(rel string) (int, error) {
	return unix.Openat2(t.rootFd, rel, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV,
	})
}

// scanDir reads directory n in full (watching it first, so nothing made
// meanwhile is missed) and every new subdirectory under it.
func (t *tree) scanDir(n *dirNode) {
	fd, err := t.openBeneath(n.rel())
	if err != nil {
		t.dropDir(n) // gone, or replaced by something that is not a directory
		return
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Dev != t.dev {
		t.dropDir(n)
		return
	}
	if n.wd < 0 || n.ino != st.Ino {
		if n.wd >= 0 {
			t.ino.remove(n.wd, t)
			delete(t.dirs, n.wd)
		}
		wd, err := t.ino.add("/proc/self/fd/"+strconv.Itoa(fd), t)
		if err != nil {
			t.broken = true
		} else {
			n.wd = wd
			t.dirs[wd] = n
		}
		n.ino = st.Ino
	}
	t.used += st.Blocks*512 - n.blocks
	n.blocks = st.Blocks * 512
	n.dirty, n.rescan = nil, false

	seen := map[string]struct{}{}
	names, err := readNames(fd)
	if err != nil {
		n.rescan = true
	}
	for _, name := range names {
		seen[name] = struct{}{}
		t.statEntry(n, fd, name)
	}
	for name := range n.files {
		if _, ok := seen[name]; !ok {
			t.forgetFile(n, name)
		}
	}
	for name, sub := range n.subs {
		if _, ok := seen[name]; !ok {
			t.dropDir(sub)
		}
	}
}

// statEntry looks at one name in directory n (open as fd) and updates the counts.
func (t *tree) statEntry(n *dirNode, fd int, name string) {
	var st unix.Stat_t
	err := unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	if err != nil || st.Dev != t.dev {
		t.forgetFile(n, name)
		if sub := n.subs[name]; sub != nil {
			t.dropDir(sub)
		}
		return
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		t.forgetFile(n, name)
		sub := n.subs[name]
		if sub == nil {
			sub = &dirNode{parent: n, name: name, wd: -1}
			if n.subs == nil {
				n.subs = map[string]*dirNode{}
			}
			n.subs[name] = sub
			t.scanDir(sub)
		} else if sub.ino != st.Ino {
			t.dropDir(sub)
			sub = &dirNode{parent: n, name: name, wd: -1}
			n.subs[name] = sub
			t.scanDir(sub)
		}
		return
	}
	if sub := n.subs[name]; sub != nil {
		t.dropDir(sub)
	}
	bytes := st.Blocks * 512
	if old, ok := n.files[name]; ok && old != st.Ino {
		t.forgetFile(n, name)
	}
	use := t.inodes[st.Ino]
	if _, linked := n.files[name]; !linked {
		if n.files == nil {
			n.files = map[string]uint64{}
		}
		n.files[name] = st.Ino
		if use == nil {
			use = &inodeUse{}
			t.inodes[st.Ino] = use
		}
		use.refs++
	}
	t.used += bytes - use.bytes
	use.bytes = bytes
	if st.Mode&unix.S_IFMT == unix.S_IFREG && bytes < st.Size {
		t.sparse[st.Ino] = sparseRef{dir: n, name: name}
	} else {
		delete(t.sparse, st.Ino)
	}
}

func (t *tree) forgetFile(n *dirNode, name string) {
	ino, ok := n.files[name]
	if !ok {
		return
	}
	delete(n.files, name)
	if use := t.inodes[ino]; use != nil {
		if use.refs--; use.refs <= 0 {
			t.used -= use.bytes
			delete(t.inodes, ino)
			delete(t.sparse, ino)
		}
	}
}

// dropDir forgets directory n and everything under it.
func (t *tree) dropDir(n *dirNode) {
	for name := range n.files {
		t.forgetFile(n, name)
	}
	for _, sub := range n.subs {
		t.dropDir(sub)
	}
	t.used -= n.blocks
	n.blocks = 0
	if n.wd >= 0 {
		t.ino.remove(n.wd, t)
		delete(t.dirs, n.wd)
		n.wd = -1
	}
	if n.parent != nil && n.parent.subs[n.name] == n {
		delete(n.parent.subs, n.name)
	}
}

// event records what inotify said about directory wd.
func (t *tree) event(wd int, mask uint32, name string) {
	n := t.dirs[wd]
	if n == nil {
		return
	}
	switch {
	case mask&(unix.IN_DELETE_SELF|unix.IN_IGNORED) != 0:
		if n.parent != nil { // the parent's event says what became of the name
			n.parent.mark(n.name)
		} else {
			n.rescan = true
		}
	case name == "":
		n.rescan = true // the directory itself changed
	default:
		n.mark(name)
	}
}

func (n *dirNode) mark(name string) {
	if n.dirty == nil {
		n.dirty = map[string]struct{}{}
	}
	n.dirty[name] = struct{}{}
}

// refresh looks again at what events named since the last refresh, and at
// every file with holes (a write through mmap fills them without an event).
func (t *tree) refresh() {
	if t.broken {
		t.reset()
		return
	}
	var work []*dirNode
	for _, n := range t.dirs {
		if n.rescan || len(n.dirty) > 0 {
			work = append(work, n)
		}
	}
	if t.top.wd < 0 && (t.top.rescan || len(t.top.dirty) > 0) {
		work = append(work, t.top)
	}
	for _, n := range work {
		if t.dirs[n.wd] != n && n != t.top {
			continue // dropped by an earlier step
		}
		t.refreshDir(n)
	}
	for _, ref := range t.sparse {
		if t.dirs[ref.dir.wd] == ref.dir {
			ref.dir.mark(ref.name)
			t.refreshDir(ref.dir)
		}
	}
}

func (t *tree) refreshDir(n *dirNode) {
	if n.rescan {
		t.scanDir(n)
		return
	}
	fd, err := t.openBeneath(n.rel())
	if err != nil {
		if n.parent == nil {
			return
		}
		n.parent.mark(n.name)
		t.refreshDir(n.parent)
		return
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if unix.Fstat(fd, &st) == nil && st.Ino == n.ino {
		t.used += st.Blocks*512 - n.blocks
		n.blocks = st.Blocks * 512
	}
	dirty := n.dirty
	n.dirty = nil
	for name := range dirty {
		t.statEntry(n, fd, name)
	}
}

// readNames lists a directory open as fd, without "." and "..".
func readNames(fd int) ([]string, error) {
	var names []string
	buf := make([]byte, 32<<10)
	if _, err := unix.Seek(fd, 0, 0); err != nil {
		return nil, err
	}
	for {
		n, err := unix.Getdents(fd, buf)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return names, err
		}
		if n <= 0 {
			return names, nil
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
}
