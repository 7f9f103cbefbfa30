package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
	"go.uber.org/zap"
)

// PrepareDir creates path if needed and gives it, and everything already
// under it, to the sandbox uid:gid, so the agent can write its checkout or
// its state. Symbolic links are changed themselves, never followed.
func (m *Manager) PrepareDir(path string) error {
	if !filepath.IsAbs(path) {
		return fmt.Errorf("prepare sandbox dir %q: must be absolute: %w", path, errdefs.ErrInvalidArgument)
	}
	if err := os.MkdirAll(path, 0o755); err != nil {
		return fmt.Errorf("prepare sandbox dir: %w", err)
	}
	err := filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, m.uid, m.gid)
	})
	if err != nil {
		return fmt.Errorf("prepare sandbox dir %s for %s: %w", path, m.user, err)
	}
	return nil
}

// RemoveTree deletes a host directory the agent may have written to. When
// the runner cannot delete something itself (it is not root, or the agent
// left directories it cannot enter), a short-lived helper container with
// only the file capabilities removes the contents first.
func (m *Manager) RemoveTree(ctx context.Context, path string) error {
	if !filepath.IsAbs(path) || filepath.Clean(path) == "/" {
		return fmt.Errorf("remove tree %q: must be an absolute path below /: %w", path, errdefs.ErrInvalidArgument)
	}
	err := os.RemoveAll(path)
	if err == nil {
		return nil
	}
	m.log.Info("removing tree with a helper container", zap.String("path", path), zap.Error(err))
	if herr := m.removeWithHelper(ctx, path); herr != nil {
		return fmt.Errorf("remove tree %s: %w", path, errors.Join(err, herr))
	}
	if err := os.RemoveAll(path); err != nil {
		return fmt.Errorf("remove tree %s after the helper: %w", path, err)
	}
	return nil
}

// removeWithHelper empties path from inside a container of the sandbox
// image, as root with CAP_DAC_OVERRIDE and CAP_FOWNER only, no network, the
// directory as its only mount.
func (m *Manager) removeWithHelper(ctx context.Context, path string) error {
	fi, err := os.Lstat(path)
	if err != nil || !fi.IsDir() {
		return fmt.Errorf("helper: %s is not a directory: %v", path, err)
	}
	init := true
	pids := int64(64)
	res, err := m.docker.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config: &container.Config{
			Image:      m.cfg.Sandbox.Image,
			User:       "0:0",
			Entrypoint: []string{"/bin/sh", "-c", `chmod -R u+rwx /target 2>/dev/null; rm -rf /target/..?* /target/.[!.]* /target/*`},
			Cmd:        []string{},
			Labels:     map[string]string{LabelManaged: "true", LabelRunnerID: m.cfg.RunnerID, "dev.claudette.role": "cleanup"},
		},
		HostConfig: &container.HostConfig{
			Mounts:         []mount.Mount{bind(path, "/target", false)},
			NetworkMode:    NetworkNone,
			Init:           &init,
			ReadonlyRootfs: true,
			CapDrop:        []string{"ALL"},
			CapAdd:         []string{"CAP_DAC_OVERRIDE", "CAP_FOWNER"},
			SecurityOpt:    []string{"no-new-privileges:true"},
			Runtime:        m.cfg.Sandbox.Runtime,
			Resources:      container.Resources{Memory: 256 << 20, MemorySwap: 256 << 20, PidsLimit: &pids},
		},
	})
	if err != nil {
		return fmt.Errorf("helper: create: %w", err)
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = m.remove(rctx, res.ID)
	}()
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wait := m.docker.ContainerWait(wctx, res.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
	if _, err := m.docker.ContainerStart(ctx, res.ID, client.ContainerStartOptions{}); err != nil {
		return fmt.Errorf("helper: start: %w", err)
	}
	select {
	case r := <-wait.Result:
		if r.StatusCode != 0 {
			return fmt.Errorf("helper: rm exited with code %d", r.StatusCode)
		}
		return nil
	case err := <-wait.Error:
		return fmt.Errorf("helper: wait: %w", err)
	case <-ctx.Done():
		return fmt.Errorf("helper: %w", ctx.Err())
	}
}
