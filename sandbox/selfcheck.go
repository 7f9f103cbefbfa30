package sandbox

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
	"go.uber.org/zap"
)

// Docker-out-of-Docker. When the runner itself runs in a container and talks
// to the engine through its socket, every bind-mount source it sends (the
// checkout, the agent state) is resolved on the HOST, not in the runner's
// container. The runner therefore requires the workspace dir and the data dir
// to be bind mounts of the very same host path (`/srv/x:/srv/x`) and refuses
// to start otherwise, rather than translating paths: one rule an operator can
// see in the compose file, and no path arithmetic to get wrong.

// selfInfo is what a process can learn about the container it may run in.
type selfInfo struct {
	mountinfo, cgroup []byte
	hostname          string
	dockerenv         bool // /.dockerenv exists
}

func readSelfInfo() selfInfo {
	var s selfInfo
	s.mountinfo, _ = os.ReadFile("/proc/self/mountinfo")
	s.cgroup, _ = os.ReadFile("/proc/self/cgroup")
	s.hostname, _ = os.Hostname()
	_, err := os.Stat("/.dockerenv")
	s.dockerenv = err == nil
	return s
}

var (
	// The engine bind-mounts /etc/hostname, /etc/hosts and /etc/resolv.conf
	// from {docker root}/containers/<id>/: the most reliable trace of the id.
	mountinfoID = regexp.MustCompile(`/containers/([0-9a-f]{64})/(?:hostname|hosts|resolv\.conf)$`)
	// cgroup v1 and v2 without a cgroup namespace: /docker/<id>, docker-<id>.scope.
	cgroupID = regexp.MustCompile(`(?:^|[/-])([0-9a-f]{64})(?:\.scope)?$`)
)

// containerCandidates are the ids (or names) this process may run under,
// best first: ids from mountinfo, then from the cgroup file, then the host
// name (the engine's default host name is the short id).
func containerCandidates(mountinfo, cgroup []byte, hostname string) []string {
	var ids []string
	add := func(id string) {
		for _, have := range ids {
			if have == id {
				return
			}
		}
		ids = append(ids, id)
	}
	sc := bufio.NewScanner(bytes.NewReader(mountinfo))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 5 {
			continue
		}
		switch f[4] { // the mount point
		case "/etc/hostname", "/etc/hosts", "/etc/resolv.conf":
			if m := mountinfoID.FindStringSubmatch(f[3]); m != nil { // the root within its file system
				add(m[1])
			}
		}
	}
	for _, line := range strings.Split(string(cgroup), "\n") {
		// hierarchy-id:controllers:path
		if parts := strings.SplitN(line, ":", 3); len(parts) == 3 {
			if m := cgroupID.FindStringSubmatch(parts[2]); m != nil {
				add(m[1])
			}
		}
	}
	if hostname != "" {
		add(hostname)
	}
	return ids
}

// ownContainer finds the container this process runs in on the engine cli
// talks to. found is false when the process does not run in one of that
// engine's containers (on the host itself, or in a container of another
// engine or runtime); err is only for failing to ask.
func ownContainer(ctx context.Context, cli *client.Client, self selfInfo) (c container.InspectResponse, found bool, err error) {
	for _, id := range containerCandidates(self.mountinfo, self.cgroup, self.hostname) {
		res, err := cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		switch {
		case errdefs.IsNotFound(err) || errdefs.IsInvalidArgument(err):
			continue
		case err != nil:
			return c, false, fmt.Errorf("inspect own container %s: %w", id, err)
		}
		got := res.Container
		if id == self.hostname && (got.Config == nil || got.Config.Hostname != self.hostname) {
			continue // a container merely named like this host
		}
		return got, true, nil
	}
	return c, false, nil
}

// checkOwnMounts refuses a runner that runs in a container of its own engine
// unless the workspace dir and the data dir are bind mounts of the same host
// path. Outside such a container there is nothing to check.
func (m *Manager) checkOwnMounts(ctx context.Context) error {
	return m.checkMountsOf(ctx, readSelfInfo())
}

func (m *Manager) checkMountsOf(ctx context.Context, info selfInfo) error {
	self, found, err := ownContainer(ctx, m.docker, info)
	if err != nil {
		return fmt.Errorf("docker-out-of-docker check: %w", err)
	}
	if !found {
		if info.dockerenv {
			m.log.Info("running in a container the docker engine does not know; bind mount sources are used as they are")
		}
		return nil
	}
	dirs := []struct{ what, setting, path string }{
		{"workspace dir", "--workspace-dir/CLAUDETTE_WORKSPACE_DIR", m.cfg.WorkspaceDir},
		{"data dir", "--data-dir/CLAUDETTE_DATA_DIR", m.cfg.DataDir},
	}
	var problems []string
	for _, d := range dirs {
		abs, err := filepath.Abs(d.path)
		if err != nil {
			return fmt.Errorf("%s %q: %w", d.what, d.path, err)
		}
		if p := sameMountProblem(abs, self.Mounts); p != "" {
			problems = append(problems, fmt.Sprintf("%s %s (%s) %s", d.what, abs, d.setting, p))
		}
	}
	name := strings.TrimPrefix(self.Name, "/")
	if len(problems) == 0 {
		m.log.Info("running in a container; workspace and data dirs are same-path bind mounts",
			zap.String("container", name), zap.String("container_id", shortID(self.ID)))
		return nil
	}
	ws, _ := filepath.Abs(m.cfg.WorkspaceDir)
	data, _ := filepath.Abs(m.cfg.DataDir)
	return fmt.Errorf("docker-out-of-docker: the runner runs in container %s (%s) and the docker engine resolves "+
		"the sandboxes' bind mounts on the host, so the workspace dir and the data dir must be bind mounts of the "+
		"same path on the host: %s; fix the runner's volumes in the compose file so that each is mounted at the "+
		"same path on both sides, e.g. \"- %s:%s\" and \"- %s:%s\" (deploy/docker-compose.yml does this from "+
		"CLAUDETTE_WORKSPACE_DIR and CLAUDETTE_DATA_DIR in .env): %w",
		name, shortID(self.ID), strings.Join(problems, "; "), ws, ws, data, data, errdefs.ErrFailedPrecondition)
}

// sameMountProblem says why dir, a path inside the runner's container, would
// not name the same directory on the host; "" when it does. The mount that
// holds dir must be a writable bind mount whose host source is its
// destination, and nothing mounted below dir may come from elsewhere.
func sameMountProblem(dir string, mounts []container.MountPoint) string {
	var holder *container.MountPoint
	for i := range mounts {
		mp := &mounts[i]
		dst := filepath.Clean(mp.Destination)
		if (dir == dst || strings.HasPrefix(dir, strings.TrimSuffix(dst, "/")+"/")) &&
			(holder == nil || len(dst) > len(filepath.Clean(holder.Destination))) {
			holder = mp
		}
	}
	switch {
	case holder == nil:
		return "is not mounted from the host: it is inside the container's own file system"
	case holder.Type != mount.TypeBind:
		what := string(holder.Type)
		if holder.Name != "" {
			what += " " + holder.Name
		}
		return fmt.Sprintf("is on %s mounted at %s, not a bind mount of the same host path", what, holder.Destination)
	case filepath.Clean(holder.Source) != filepath.Clean(holder.Destination):
		return fmt.Sprintf("is under a bind mount of host path %s at %s: the host path must equal the path inside",
			holder.Source, holder.Destination)
	case !holder.RW:
		return fmt.Sprintf("is under a read-only mount at %s", holder.Destination)
	}
	for _, mp := range mounts {
		dst := filepath.Clean(mp.Destination)
		if strings.HasPrefix(dst, dir+"/") && (mp.Type != mount.TypeBind || filepath.Clean(mp.Source) != dst) {
			return fmt.Sprintf("has %s mounted below it at %s from another source", mp.Type, mp.Destination)
		}
	}
	return ""
}
