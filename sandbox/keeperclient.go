package sandbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// dialKeeper connects to a workspace's keeper.
func (m *Manager) dialKeeper(ctx context.Context, workspaceID string) (*net.UnixConn, error) {
	dir, err := os.Open(filepath.Join(m.boxDir(workspaceID), "keeper"))
	if err != nil {
		return nil, fmt.Errorf("keeper dir: %w", err)
	}
	defer dir.Close()
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", dialPath(dir, KeeperSocket))
	if err != nil {
		return nil, fmt.Errorf("reach the sandbox's keeper: %w", err)
	}
	return c.(*net.UnixConn), nil
}

// keeperCall sends one request and reads its reply, bounded by timeout.
func (m *Manager) keeperCall(ctx context.Context, workspaceID string, req keeperRequest, files []*os.File, timeout time.Duration) (keeperReply, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := m.dialKeeper(ctx, workspaceID)
	if err != nil {
		return keeperReply{}, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if err := writeRequest(c, req, files); err != nil {
		return keeperReply{}, fmt.Errorf("keeper %s: %w", req.Op, err)
	}
	rep, err := readReply(c)
	if err != nil {
		return rep, fmt.Errorf("keeper %s: %w", req.Op, err)
	}
	if !rep.OK {
		return rep, fmt.Errorf("keeper %s: %s", req.Op, rep.Error)
	}
	return rep, nil
}

// waitKeeperReady waits until a new kept sandbox's keeper answers, or the
// container ends first. appeared (nil: none) wakes it when the keeper's
// socket is made or its mode set (the keeper listens then).
func (m *Manager) waitKeeperReady(ctx context.Context, workspaceID string, appeared, exited <-chan struct{}) error {
	deadline := time.Now().Add(30 * time.Second)
	wait := time.Millisecond
	for {
		_, err := m.keeperCall(ctx, workspaceID, keeperRequest{Op: "ping"}, nil, 5*time.Second)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the sandbox's keeper did not start: %w", err)
		}
		select {
		case <-exited:
			return errors.New("the sandbox's keeper exited at its start")
		case <-ctx.Done():
			return ctx.Err()
		case <-appeared:
		case <-time.After(wait):
		}
		wait = min(wait*2, 20*time.Millisecond)
	}
}

// specHash is what a kept sandbox was started with beyond its turn: the
// image (its id, so a re-tagged image counts), every sandbox setting, the
// keeper's command, the network, the checkout and each mount (source,
// target, mode), with the identity (device, inode) of each source and of
// each mount point inside the checkout. A turn runs in a kept sandbox only
// when its own hash is the same; a .git mount point the workspace made
// again, a re-created agent state dir or a changed setting make a new one.
func (m *Manager) specHash(ctx context.Context, s *Spec, image string) (string, error) {
	imageID, err := m.imageIDs.do(ctx, image, func() (string, error) {
		res, err := m.docker.ImageInspect(ctx, image)
		return res.ID, err
	})
	if err != nil {
		return "", fmt.Errorf("inspect sandbox image %s: %w", image, err)
	}
	sc := m.cfg.Sandbox
	h := struct {
		ImageID, Image, Runtime, User, Network  string
		Memory, TmpSize, OutputLimit, LineLimit int64
		CPUs                                    float64
		Pids, NoFile                            int64
		StopGrace                               time.Duration
		Keeper                                  []string
		Mounts                                  []string
	}{
		ImageID: imageID, Image: image, Runtime: sc.Runtime, User: m.user, Network: networkMode(s),
		Memory: int64(sc.Memory), TmpSize: int64(sc.TmpSize), OutputLimit: int64(sc.OutputLimit), LineLimit: int64(sc.LineLimit),
		CPUs: sc.CPUs, Pids: sc.Pids, NoFile: sc.NoFile, StopGrace: sc.StopGrace, Keeper: s.Keeper,
	}
	h.Mounts = append(h.Mounts, mountID(s.Checkout, WorkspacePath, false))
	for _, mt := range s.Mounts {
		h.Mounts = append(h.Mounts, mountID(mt.Source, mt.Target, mt.ReadOnly))
		if rel, ok := strings.CutPrefix(mt.Target, WorkspacePath+"/"); ok {
			h.Mounts = append(h.Mounts, "point "+mt.Target+" "+fileID(filepath.Join(s.Checkout, filepath.FromSlash(path.Clean(rel)))))
		}
	}
	b, err := json.Marshal(h)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16]), nil
}

func mountID(src, target string, ro bool) string {
	return fmt.Sprintf("%s %s %v %s", src, target, ro, fileID(src))
}

// fileID is a file's device and inode, without following a final symlink.
func fileID(p string) string {
	fi, err := os.Lstat(p)
	if err != nil {
		return "missing"
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "unknown"
	}
	return fmt.Sprintf("%d:%d", st.Dev, st.Ino)
}
