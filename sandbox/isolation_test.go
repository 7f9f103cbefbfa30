package sandbox_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/claudette-dev/claudette-runner/sandbox"
	"github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// runtimes are the OCI runtimes the isolation tests run under: the engine
// default always, gVisor's runsc when the engine has it registered; only
// $CLAUDETTE_TEST_RUNTIME when it is set (make test-runsc), which the engine
// must have.
func runtimes(t *testing.T) []string {
	t.Helper()
	e := newManager(t, testConfig(t))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	caps, err := e.m.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rt := os.Getenv("CLAUDETTE_TEST_RUNTIME"); rt != "" {
		if !slices.Contains(caps.Runtimes, rt) {
			t.Fatalf("CLAUDETTE_TEST_RUNTIME=%s is not registered with this docker engine (runtimes %v): see make test-runsc", rt, caps.Runtimes)
		}
		return []string{rt}
	}
	out := []string{""}
	if slices.Contains(caps.Runtimes, "runsc") {
		out = append(out, "runsc")
	} else {
		t.Log("runsc is not registered with this docker engine: isolation not tested under gVisor")
	}
	return out
}

func runtimeName(rt string) string {
	if rt == "" {
		return "default"
	}
	return rt
}

// gvisor reports a gVisor runtime: runsc, or a name make test-runsc
// registered it under (RUNSC_NAME).
func gvisor(rt string) bool { return strings.Contains(rt, "runsc") }

// runtimeConfig adapts the test limits to the runtime: gVisor's sentry and
// its per-task host threads count against the pids limit, 64 is too few.
func runtimeConfig(t *testing.T, rt string) *config.Config {
	cfg := testConfig(t)
	cfg.Sandbox.Runtime = rt
	if gvisor(rt) {
		cfg.Sandbox.Pids = 512
	}
	return cfg
}

// TestIsolation checks a running sandbox from inside (the agent's report)
// and from outside (inspect, the host's cgroup files, the checkout on the
// host), with a 1 MiB prompt that must reach the agent without showing in
// inspect, then cancels it.
func TestIsolation(t *testing.T) {
	for _, rt := range runtimes(t) {
		t.Run(runtimeName(rt), func(t *testing.T) { testIsolation(t, rt) })
	}
}

func testIsolation(t *testing.T, rt string) {
	cfg := runtimeConfig(t, rt)
	e := startManager(t, cfg)
	other := e.hostDir("ws-other-checkout")
	if err := os.WriteFile(filepath.Join(other, "secret.txt"), []byte("other workspace"), 0o644); err != nil {
		t.Fatal(err)
	}
	marker := "PROMPT-MARKER-" + randHex(8)
	prompt := "PROBE report\nPROBE write /workspace/out/hello.txt hello from the sandbox\n" +
		"PROBE read " + filepath.Join(other, "secret.txt") + "\nPROBE ls /\nPROBE sleep 120\n" +
		marker + "\n" + strings.Repeat("padding line of the one mebibyte prompt\n", (1<<20)/40)
	spec := e.spec("ws-iso", prompt)
	r := e.run(spec)

	// Inside: read until the sleep starts (its tool_use line), then look from outside.
	var lines []sandbox.Line
	for l := range r.Lines() {
		lines = append(lines, l)
		if strings.Contains(string(l.Data), `"command":"PROBE sleep 120"`) {
			break
		}
	}
	f := findings(t, lines)
	if len(f) != 4 {
		t.Fatalf("want 4 probe results before the sleep, got %d: %v", len(f), f)
	}
	report, write, readOther, ls := f[0], f[1], f[2], f[3]
	checkReport(t, rt, cfg, report)
	if write["ok"] != true {
		t.Errorf("write in the checkout failed: %v", write)
	}
	if readOther["ok"] != false {
		t.Errorf("another workspace's checkout is visible inside: %v", readOther)
	}
	for _, ent := range ls["entries"].([]any) {
		name := ent.(map[string]any)["name"].(string)
		if !slices.Contains([]string{"bin", "dev", "etc", "home", "proc", "root", "run", "sys", "tmp", "usr", "var", "workspace", "state", "sbin", ".dockerenv", "lib", "lib64"}, name) {
			t.Errorf("unexpected entry in the sandbox root: %s", name)
		}
	}

	// Outside, while it runs.
	checkOutside(t, e, r.ContainerID(), spec, marker)

	// The checkout write, on the host, owned by the sandbox user.
	var st syscall.Stat_t
	hello := filepath.Join(spec.Checkout, "out", "hello.txt")
	if err := syscall.Stat(hello, &st); err != nil {
		t.Fatalf("the agent's file is not on the host: %v", err)
	}
	if st.Uid != 1000 || st.Gid != 1000 {
		t.Errorf("agent file owned by %d:%d, want 1000:1000", st.Uid, st.Gid)
	}
	if got := readFile(t, hello); got != "hello from the sandbox" {
		t.Errorf("agent file content %q", got)
	}
	// The whole prompt reached the agent: its transcript in the state dir has the marker.
	transcripts, _ := filepath.Glob(filepath.Join(spec.Mounts[0].Source, "projects", "*", "*.jsonl"))
	if len(transcripts) != 1 || !strings.Contains(readFile(t, transcripts[0]), marker) ||
		!strings.Contains(readFile(t, transcripts[0]), "padding line of the one mebibyte prompt\\npadding") {
		t.Errorf("the prompt did not reach the agent in full (transcripts %v)", transcripts)
	}

	r.Cancel("test is done")
	for range r.Lines() {
	}
	status := r.Wait(context.Background())
	if status.Kind != sandbox.Cancelled || status.Reason != "stopped: cancelled" || status.CancelReason != "test is done" {
		t.Errorf("status %+v, want cancelled", status)
	}
	if status.ExitCode != 143 {
		t.Errorf("exit code %d, want 143: the agent should stop on SIGTERM within the grace period", status.ExitCode)
	}
	if _, err := e.docker.ContainerInspect(context.Background(), r.ContainerID(), client.ContainerInspectOptions{}); !errdefs.IsNotFound(err) {
		t.Errorf("container still there after cancel: %v", err)
	}
}

func checkReport(t *testing.T, rt string, cfg *config.Config, rep map[string]any) {
	t.Helper()
	want := map[string]any{"uid": 1000.0, "gid": 1000.0, "euid": 1000.0, "CapEff": "0000000000000000",
		"root_readonly": true, "root_writable": false, "etc_writable": false, "tmp_writable": true,
		"nofile_soft": float64(cfg.Sandbox.NoFile), "nofile_hard": float64(cfg.Sandbox.NoFile)}
	if !gvisor(rt) { // gVisor reports neither field in /proc/self/status
		want["NoNewPrivs"], want["Seccomp"] = "1", "2"
	}
	for k, v := range want {
		if rep[k] != v {
			t.Errorf("inside: %s = %v, want %v", k, rep[k], v)
		}
	}
	for sock, present := range rep["docker_sock"].(map[string]any) {
		if present != false {
			t.Errorf("inside: docker socket %s present", sock)
		}
	}
	if !gvisor(rt) { // gVisor has no cgroup file system inside
		cg := rep["cgroup"].(map[string]any)
		for k, v := range map[string]int64{"memory_limit": int64(cfg.Sandbox.Memory), "memsw_limit": int64(cfg.Sandbox.Memory),
			"pids_max": cfg.Sandbox.Pids, "cpu_quota_us": int64(cfg.Sandbox.CPUs * 100000), "cpu_period_us": 100000} {
			if num(cg[k]) != v {
				t.Errorf("inside: cgroup %s = %v, want %d", k, cg[k], v)
			}
		}
	}
	// Only the checkout and the state dir come from the host, beside the
	// engine's own files (resolv.conf, hostname, hosts, docker-init).
	engine := []string{"/etc/resolv.conf", "/etc/hostname", "/etc/hosts", "/sbin/docker-init", "/dev/termination-log"}
	for _, m := range rep["mounts"].([]any) {
		mt := m.(map[string]any)
		path, fstype := mt["path"].(string), mt["fstype"].(string)
		switch {
		case path == "/workspace" || path == "/state" || slices.Contains(engine, path):
		case path == "/" || path == "/tmp" || strings.HasPrefix(path, "/proc") || strings.HasPrefix(path, "/sys") || strings.HasPrefix(path, "/dev"):
			if fstype == "ext4" || fstype == "xfs" || fstype == "btrfs" {
				t.Errorf("inside: host file system at %s (%s)", path, fstype)
			}
		default:
			t.Errorf("inside: unexpected mount %s (%s from %v)", path, fstype, mt["source"])
		}
	}
}

func checkOutside(t *testing.T, e *env, id string, spec sandbox.Spec, marker string) {
	t.Helper()
	res, err := e.docker.ContainerInspect(context.Background(), id, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c, h, sc := res.Container, res.Container.HostConfig, e.cfg.Sandbox
	if strings.Contains(string(res.Raw), marker) {
		t.Error("outside: the prompt shows in docker inspect")
	}
	if c.Config.User != "1000:1000" || c.Config.WorkingDir != "/workspace" {
		t.Errorf("outside: user %q workdir %q", c.Config.User, c.Config.WorkingDir)
	}
	for k, v := range map[string]string{sandbox.LabelManaged: "true", sandbox.LabelRunnerID: e.cfg.RunnerID,
		sandbox.LabelWorkspaceID: spec.WorkspaceID, sandbox.LabelMessageID: spec.MessageID} {
		if c.Config.Labels[k] != v {
			t.Errorf("outside: label %s = %q, want %q", k, c.Config.Labels[k], v)
		}
	}
	if c.Name != "/"+sandbox.ContainerName(e.cfg.RunnerID, spec.WorkspaceID) {
		t.Errorf("outside: name %s", c.Name)
	}
	if !slices.Equal(h.CapDrop, []string{"ALL"}) || len(h.CapAdd) > 0 || h.Privileged || !h.ReadonlyRootfs ||
		!slices.Contains(h.SecurityOpt, "no-new-privileges:true") || slices.ContainsFunc(h.SecurityOpt, func(s string) bool { return strings.Contains(s, "unconfined") }) {
		t.Errorf("outside: hardening caps drop %v add %v privileged %v ro %v secopt %v", h.CapDrop, h.CapAdd, h.Privileged, h.ReadonlyRootfs, h.SecurityOpt)
	}
	if h.NetworkMode != "none" || h.PidMode != "" || h.IpcMode != "private" || h.UTSMode != "" || h.UsernsMode != "" {
		t.Errorf("outside: namespaces net %q pid %q ipc %q uts %q userns %q", h.NetworkMode, h.PidMode, h.IpcMode, h.UTSMode, h.UsernsMode)
	}
	if len(h.Devices) > 0 || len(h.DeviceRequests) > 0 || len(h.Binds) > 0 {
		t.Errorf("outside: devices %v requests %v binds %v", h.Devices, h.DeviceRequests, h.Binds)
	}
	if h.Memory != int64(sc.Memory) || h.MemorySwap != int64(sc.Memory) || h.NanoCPUs != int64(sc.CPUs*1e9) ||
		h.PidsLimit == nil || *h.PidsLimit != sc.Pids {
		t.Errorf("outside: limits memory %d swap %d nanocpus %d pids %v", h.Memory, h.MemorySwap, h.NanoCPUs, h.PidsLimit)
	}
	if h.Tmpfs["/tmp"] == "" || !strings.Contains(h.Tmpfs["/tmp"], "size="+strconv.FormatInt(int64(sc.TmpSize), 10)) {
		t.Errorf("outside: tmpfs %v", h.Tmpfs)
	}
	if h.Runtime != e.cfg.Sandbox.Runtime && !(e.cfg.Sandbox.Runtime == "" && h.Runtime == "runc") {
		t.Errorf("outside: runtime %q, want %q", h.Runtime, e.cfg.Sandbox.Runtime)
	}
	var mounts []string
	for _, m := range c.Mounts {
		mounts = append(mounts, m.Source+":"+m.Destination)
		if strings.Contains(m.Source, "docker.sock") {
			t.Errorf("outside: docker socket mounted: %v", m)
		}
	}
	slices.Sort(mounts)
	want := []string{spec.Mounts[0].Source + ":/state", spec.Checkout + ":/workspace"}
	slices.Sort(want)
	if !slices.Equal(mounts, want) {
		t.Errorf("outside: mounts %v, want %v", mounts, want)
	}

	// The host's cgroup files of the container.
	caps := e.m.Capabilities()
	for file, want := range map[string]int64{
		filepath.Join(sandbox.CgroupDir(caps, "memory", id), "memory.limit_in_bytes"):       int64(sc.Memory),
		filepath.Join(sandbox.CgroupDir(caps, "memory", id), "memory.memsw.limit_in_bytes"): int64(sc.Memory),
		filepath.Join(sandbox.CgroupDir(caps, "pids", id), "pids.max"):                      sc.Pids,
		filepath.Join(sandbox.CgroupDir(caps, "cpu", id), "cpu.cfs_quota_us"):               int64(sc.CPUs * 100000),
		filepath.Join(sandbox.CgroupDir(caps, "cpu", id), "cpu.cfs_period_us"):              100000,
	} {
		got, err := strconv.ParseInt(strings.TrimSpace(readFile(t, file)), 10, 64)
		if err != nil || got != want {
			t.Errorf("outside: %s = %d (%v), want %d", file, got, err, want)
		}
	}
}
