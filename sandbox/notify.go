package sandbox

import (
	"fmt"
	"os"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// What a watch wakes on: a file written; a name made in a directory, or its
// mode set (the keeper sets its socket's once it listens).
const (
	inotifyWrite  = unix.IN_MODIFY | unix.IN_CLOSE_WRITE
	inotifyCreate = unix.IN_CREATE | unix.IN_MOVED_TO | unix.IN_ATTRIB
)

// notifier wakes a reader when a file or directory of a kept sandbox
// changes: a turn's output file grows (tail.go), the keeper's socket
// appears in its directory (a new sandbox's keeper is up). One inotify
// instance serves the whole manager (the per-user limit of instances is
// small); each watch gets a channel that holds one pending wake-up, so a
// change between a reader's last look and its wait is never missed. After
// an overflow of the kernel's queue every channel is woken.
type notifier struct {
	once sync.Once
	err  error
	f    *os.File

	mu    sync.Mutex
	byWD  map[int][]chan struct{}
	close sync.Once
}

// watch wakes the returned channel on every change of path (mask: inotify
// events); stop ends it. An error means the caller has to poll.
func (n *notifier) watch(path string, mask uint32) (<-chan struct{}, func(), error) {
	n.once.Do(n.start)
	if n.err != nil {
		return nil, nil, n.err
	}
	fd := int(n.f.Fd())
	wd, err := unix.InotifyAddWatch(fd, path, mask)
	if err != nil {
		return nil, nil, fmt.Errorf("inotify watch %s: %w", path, err)
	}
	ch := make(chan struct{}, 1)
	n.mu.Lock()
	n.byWD[wd] = append(n.byWD[wd], ch)
	n.mu.Unlock()
	stop := func() {
		n.mu.Lock()
		defer n.mu.Unlock()
		chs := n.byWD[wd]
		for i, c := range chs {
			if c == ch {
				chs = append(chs[:i], chs[i+1:]...)
				break
			}
		}
		if len(chs) == 0 {
			delete(n.byWD, wd)
			_, _ = unix.InotifyRmWatch(fd, uint32(wd))
			return
		}
		n.byWD[wd] = chs
	}
	return ch, stop, nil
}

func (n *notifier) start() {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		n.err = fmt.Errorf("inotify: %w", err)
		return
	}
	n.f = os.NewFile(uintptr(fd), "inotify") // non-blocking: read through the runtime's poller
	n.byWD = map[int][]chan struct{}{}
	go n.read()
}

// read hands every event to the channels of its watch until the notifier
// is closed.
func (n *notifier) read() {
	buf := make([]byte, 16<<10)
	for {
		k, err := n.f.Read(buf)
		if err != nil {
			return // closed (readers also look on their own now and then)
		}
		n.mu.Lock()
		for off := 0; off+unix.SizeofInotifyEvent <= k; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			off += unix.SizeofInotifyEvent + int(ev.Len)
			if ev.Mask&unix.IN_Q_OVERFLOW != 0 {
				for _, chs := range n.byWD {
					wake(chs)
				}
				continue
			}
			wake(n.byWD[int(ev.Wd)])
		}
		n.mu.Unlock()
	}
}

func wake(chs []chan struct{}) {
	for _, ch := range chs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// stop closes the inotify instance (the manager stops).
func (n *notifier) stop() {
	n.close.Do(func() {
		if n.f != nil {
			_ = n.f.Close()
		}
	})
}
