package disk

import (
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// inotify is the one inotify instance of a Watcher: every watched directory of
// every tree, read without blocking at each measurement.
type inotify struct {
	fd    int
	trees map[int]*tree // by watch descriptor
	buf   []byte
}

func newInotify() (*inotify, error) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("inotify: %w", err)
	}
	return &inotify{fd: fd, trees: map[int]*tree{}, buf: make([]byte, 64<<10)}, nil
}

func (in *inotify) add(path string, t *tree) (int, error) {
	wd, err := unix.InotifyAddWatch(in.fd, path, watchMask)
	if err != nil {
		return -1, err
	}
	in.trees[wd] = t
	return wd, nil
}

func (in *inotify) remove(wd int, t *tree) {
	if in.trees[wd] == t {
		delete(in.trees, wd)
		_, _ = unix.InotifyRmWatch(in.fd, uint32(wd))
	}
}

// drain hands every queued event to its tree; after a queue overflow every
// tree is read again in full.
func (in *inotify) drain() {
	for {
		n, err := unix.Read(in.fd, in.buf)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || n <= 0 {
			return
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&in.buf[off]))
			name := ""
			if ev.Len > 0 {
				raw := in.buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)]
				for i, c := range raw {
					if c == 0 {
						raw = raw[:i]
						break
					}
				}
				name = string(raw)
			}
			off += unix.SizeofInotifyEvent + int(ev.Len)
			if ev.Mask&unix.IN_Q_OVERFLOW != 0 {
				seen := map[*tree]bool{}
				for _, t := range in.trees {
					if !seen[t] {
						seen[t] = true
						t.broken = true
					}
				}
				continue
			}
			if t := in.trees[int(ev.Wd)]; t != nil {
				t.event(int(ev.Wd), ev.Mask, name)
			}
		}
	}
}

func (in *inotify) close() { unix.Close(in.fd) }
