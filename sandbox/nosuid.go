package sandbox

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"go.uber.org/zap"
)

// The engine's bind mounts keep the flags of the host mount their source is
// on, and the API has no nosuid/nodev option for a bind. So while a sandbox
// starts, each directory it gets read-write (the checkout, the agent state)
// is bind-mounted onto itself on the host with nosuid,nodev: the engine's
// bind copies those flags into the sandbox, where a set-uid file or a device
// node the agent makes there is inert. The self-bind is undone as soon as the
// container has started (the sandbox keeps its own copy of the mount), and
// one a crash left behind is undone at the next start (cleanStaleBinds).
// When the runner may not mount (no CAP_SYS_ADMIN) or the engine does not
// share its mount namespace, the sandbox gets the plain bind: the same
// directory, only without the two flags, and a warning says so.

// nosuidFlags are what a staged bind adds.
const nosuidFlags = syscall.MS_NOSUID | syscall.MS_NODEV

// stageNosuid self-binds each read-write directory source of the spec with
// nosuid,nodev and returns the undo. Errors are logged, never fatal.
func (m *Manager) stageNosuid(s *Spec) func() {
	dirs := []string{s.Checkout}
	for _, mt := range s.Mounts {
		if fi, err := os.Stat(mt.Source); !mt.ReadOnly && err == nil && fi.IsDir() {
			dirs = append(dirs, mt.Source)
		}
	}
	var staged []string
	for _, d := range dirs {
		if err := selfBindNosuid(d); err != nil {
			m.nosuidWarn.Do(func() {
				m.log.Warn("cannot mount the sandbox's writable dirs nosuid,nodev; they keep the host's mount flags",
					zap.String("workspace_id", s.WorkspaceID), zap.Error(err))
			})
			continue
		}
		staged = append(staged, d)
	}
	return func() {
		for _, d := range staged {
			if err := syscall.Unmount(d, syscall.MNT_DETACH); err != nil {
				m.log.Warn("cannot undo the nosuid bind", zap.String("workspace_id", s.WorkspaceID), zap.String("dir", d), zap.Error(err))
			}
		}
	}
}

// selfBindNosuid mounts dir onto itself, private, with nosuid,nodev.
func selfBindNosuid(dir string) error {
	if err := syscall.Mount(dir, dir, "", syscall.MS_BIND, ""); err != nil {
		return &os.PathError{Op: "bind mount", Path: dir, Err: err}
	}
	fail := func(op string, err error) error {
		_ = syscall.Unmount(dir, syscall.MNT_DETACH)
		return &os.PathError{Op: op, Path: dir, Err: err}
	}
	if err := syscall.Mount("", dir, "", syscall.MS_PRIVATE, ""); err != nil {
		return fail("make private", err)
	}
	if err := syscall.Mount("", dir, "", syscall.MS_REMOUNT|syscall.MS_BIND|nosuidFlags, ""); err != nil {
		return fail("remount nosuid,nodev", err)
	}
	return nil
}

// cleanStaleBinds undoes the self-binds a crash left on directories under
// roots: mounts whose root within their file system is their own mount
// point and that are nosuid,nodev (a file system mounted there, such as a
// workspace's own disk, has root "/" and is left alone).
func cleanStaleBinds(log *zap.Logger, roots ...string) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var abs []string
	for _, r := range roots {
		if a, err := filepath.Abs(r); err == nil && r != "" {
			abs = append(abs, a)
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 6 {
			continue
		}
		root, point, opts := unescapeMount(f[3]), unescapeMount(f[4]), f[5]
		if root != point || !strings.Contains(opts, "nosuid") || !strings.Contains(opts, "nodev") || !under(point, abs) {
			continue
		}
		if err := syscall.Unmount(point, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) {
			log.Warn("cannot undo a stale nosuid bind", zap.String("dir", point), zap.Error(err))
			continue
		}
		log.Info("undid a stale nosuid bind", zap.String("dir", point))
	}
}

func under(p string, roots []string) bool {
	for _, r := range roots {
		if strings.HasPrefix(p, r+"/") {
			return true
		}
	}
	return false
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space...).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v byte
			ok := true
			for _, c := range s[i+1 : i+4] {
				if c < '0' || c > '7' {
					ok = false
					break
				}
				v = v*8 + byte(c-'0')
			}
			if ok {
				b.WriteByte(v)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
