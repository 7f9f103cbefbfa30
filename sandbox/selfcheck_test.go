package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/images/demo/demotest"
	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
	"go.uber.org/zap/zaptest"
)

const selfID = "d7c877aed969d0f007baefc5ad4c158778be059af2906ae04a2a45c1dc861236"

// dockerMountinfo is /proc/self/mountinfo of a container of a cgroup v1 engine, shortened.
var dockerMountinfo = `74 48 0:45 / / rw,nodev,noatime master:2 - fuse.fuse-overlayfs fuse-overlayfs rw
80 79 0:29 /docker/` + selfID + ` /sys/fs/cgroup/cpu ro,nosuid,nodev,noexec,relatime - cgroup cgroup rw,cpu
98 74 254:0 /var/lib/docker/containers/` + selfID + `/resolv.conf /etc/resolv.conf rw,relatime - ext4 /dev/vda rw
99 74 254:0 /var/lib/docker/containers/` + selfID + `/hostname /etc/hostname rw,relatime - ext4 /dev/vda rw
100 74 254:0 /var/lib/docker/containers/` + selfID + `/hosts /etc/hosts rw,relatime - ext4 /dev/vda rw
`

func TestContainerCandidates(t *testing.T) {
	other := strings.Repeat("ab", 32)
	cases := map[string]struct {
		mountinfo, cgroup, hostname string
		want                        []string
	}{
		"container, cgroup v1": {
			mountinfo: dockerMountinfo,
			cgroup:    "4:memory:/docker/" + selfID + "\n0::/docker/" + selfID + "\n",
			hostname:  selfID[:12],
			want:      []string{selfID, selfID[:12]},
		},
		"cgroup v2 with the systemd driver and a host cgroup namespace": {
			cgroup:   "0::/system.slice/docker-" + other + ".scope\n",
			hostname: "runner",
			want:     []string{other, "runner"},
		},
		"cgroup v2 with a private cgroup namespace: the mounts still tell": {
			mountinfo: dockerMountinfo,
			cgroup:    "0::/\n",
			hostname:  "runner-1",
			want:      []string{selfID, "runner-1"},
		},
		"a host, or a container of another engine": {
			mountinfo: "42 27 254:0 /var/lib/docker /var/lib/docker rw,relatime shared:1 - ext4 /dev/vda rw\n" +
				"43 27 254:0 /var/lib/docker/containers/" + other + "/config.v2.json /x rw - ext4 /dev/vda rw\n",
			cgroup:   "4:memory:/process_api/c621f8d319faaee04a56f5b30a5a305b\n0::/\n",
			hostname: "vm",
			want:     []string{"vm"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := containerCandidates([]byte(tc.mountinfo), []byte(tc.cgroup), tc.hostname)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("candidates %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSameMountProblem(t *testing.T) {
	bindMP := func(src, dst string) container.MountPoint {
		return container.MountPoint{Type: mount.TypeBind, Source: src, Destination: dst, RW: true}
	}
	cases := map[string]struct {
		dir    string
		mounts []container.MountPoint
		want   string // substring of the problem; "" = fine
	}{
		"same path":           {"/srv/ws", []container.MountPoint{bindMP("/srv/ws", "/srv/ws")}, ""},
		"below a same path":   {"/srv/claudette/ws", []container.MountPoint{bindMP("/srv/claudette", "/srv/claudette")}, ""},
		"trailing slash":      {"/srv/ws", []container.MountPoint{bindMP("/srv/ws/", "/srv/ws/")}, ""},
		"another host path":   {"/srv/ws", []container.MountPoint{bindMP("/home/op/ws", "/srv/ws")}, "bind mount of host path /home/op/ws"},
		"not mounted":         {"/data", []container.MountPoint{bindMP("/var/run/docker.sock", "/var/run/docker.sock")}, "not mounted from the host"},
		"prefix is not a dir": {"/srv/wsx", []container.MountPoint{bindMP("/srv/ws", "/srv/ws")}, "not mounted from the host"},
		"named volume": {"/srv/ws", []container.MountPoint{{Type: mount.TypeVolume, Name: "ws", Source: "/var/lib/docker/volumes/ws/_data",
			Destination: "/srv/ws", RW: true}}, "volume ws mounted at /srv/ws"},
		"read-only": {"/srv/ws", []container.MountPoint{{Type: mount.TypeBind, Source: "/srv/ws", Destination: "/srv/ws"}}, "read-only"},
		"the closest mount decides": {"/srv/claudette/ws", []container.MountPoint{bindMP("/srv/claudette", "/srv/claudette"),
			bindMP("/mnt/disk2", "/srv/claudette/ws")}, "host path /mnt/disk2"},
		"a foreign mount below": {"/srv/ws", []container.MountPoint{bindMP("/srv/ws", "/srv/ws"),
			{Type: mount.TypeVolume, Name: "v", Source: "/var/lib/docker/volumes/v/_data", Destination: "/srv/ws/one", RW: true}},
			"mounted below it at /srv/ws/one"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := sameMountProblem(tc.dir, tc.mounts)
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Fatalf("problem %q, want %q", got, tc.want)
			}
		})
	}
}

// TestOwnMountsOnTheEngine creates real containers with the mounts a compose
// file would give the runner and checks them as the runner would from inside
// (its mountinfo naming the container): same-path binds pass, another host
// path, a volume or no mount at all are refused with the fix.
func TestOwnMountsOnTheEngine(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := config.Defaults()
	cfg.RunnerID = "t-self-" + randomHex(t)
	cfg.Sandbox.Image = demotest.Image(t)
	m, err := New(Params{Config: cfg, Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Stop(context.Background()) })

	ws, data, elsewhere := t.TempDir(), t.TempDir(), t.TempDir()
	same := func(p string) mount.Mount { return mount.Mount{Type: mount.TypeBind, Source: p, Target: p} }
	cases := map[string]struct {
		mounts []mount.Mount
		want   []string // substrings of the error; none = accepted
	}{
		"same-path binds": {mounts: []mount.Mount{same(ws), same(data)}},
		"workspace dir from another host path": {
			mounts: []mount.Mount{{Type: mount.TypeBind, Source: elsewhere, Target: ws}, same(data)},
			want:   []string{"workspace dir " + ws, "bind mount of host path " + elsewhere, "fix the runner's volumes", "- " + ws + ":" + ws},
		},
		"data dir in a volume, workspace dir not mounted": {
			mounts: []mount.Mount{{Type: mount.TypeVolume, Target: data}},
			want:   []string{"workspace dir " + ws + " (--workspace-dir/CLAUDETTE_WORKSPACE_DIR) is not mounted from the host", "data dir " + data, "is on volume"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			id := createWithMounts(ctx, t, m.docker, cfg, tc.mounts)
			mc := managerFor(t, m, ws, data)
			info := selfInfo{mountinfo: []byte(strings.ReplaceAll(dockerMountinfo, selfID, id)), hostname: id[:12], dockerenv: true}
			err := mc.checkMountsOf(ctx, info)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("refused same-path mounts: %v", err)
				}
				return
			}
			if err == nil || !errdefs.IsFailedPrecondition(err) {
				t.Fatalf("want a failed-precondition refusal, got %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("the refusal does not say %q:\n%v", w, err)
				}
			}
		})
	}

	// Not in a container of this engine (this test itself, in the usual case):
	// nothing to check, whatever the directories.
	mc := managerFor(t, m, "/nonexistent/ws", "relative/data")
	info := selfInfo{mountinfo: []byte(strings.ReplaceAll(dockerMountinfo, selfID, strings.Repeat("0", 64))),
		hostname: "claudette-no-such-" + randomHex(t), dockerenv: true}
	if err := mc.checkMountsOf(ctx, info); err != nil {
		t.Fatalf("outside a container of the engine: %v", err)
	}
}

// managerFor is a manager like m, on the same engine client, with other dirs.
func managerFor(t *testing.T, m *Manager, ws, data string) *Manager {
	t.Helper()
	c := *m.cfg
	c.WorkspaceDir, c.DataDir = ws, data
	mc, err := New(Params{Config: &c, Logger: m.log, Docker: m.docker, Images: m.images})
	if err != nil {
		t.Fatal(err)
	}
	return mc
}

// createWithMounts creates (without starting) a container of the test image
// with mounts, removed with its anonymous volumes when the test ends.
func createWithMounts(ctx context.Context, t *testing.T, cli *client.Client, cfg *config.Config, mounts []mount.Mount) string {
	t.Helper()
	res, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config:     &container.Config{Image: cfg.Sandbox.Image, Labels: map[string]string{demotest.TestLabel: "true"}},
		HostConfig: &container.HostConfig{Mounts: mounts, NetworkMode: NetworkNone},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := cli.ContainerRemove(ctx, res.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			t.Errorf("remove container %s: %v", res.ID, err)
		}
	})
	return res.ID
}

func randomHex(t *testing.T) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
