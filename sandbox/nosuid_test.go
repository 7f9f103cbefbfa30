package sandbox_test

import (
	"os"
	"strings"
	"testing"
)

// The checkout and the agent state are mounted nosuid,nodev in the sandbox
// (under every runtime the engine has), and the runner's self-binds that
// carry the flags are gone from the host once the sandbox started.
func TestWritableBindsAreNosuidNodev(t *testing.T) {
	for _, rt := range runtimes(t) {
		t.Run(runtimeName(rt), func(t *testing.T) {
			e := startManager(t, runtimeConfig(t, rt))
			spec := e.spec("ws-nosuid", "PROBE read /proc/mounts\n")
			out, _ := collect(t, e.run(spec))
			f := findings(t, out)
			if len(f) != 1 || f[0]["ok"] != true {
				t.Fatalf("read /proc/mounts: %v", f)
			}
			lines, _ := f[0]["content"].(string)
			if gvisor(rt) {
				// gVisor's /proc/mounts is the sentry's view: its gofer mounts
				// never show the host's flags (and it makes no device nodes).
				t.Logf("mount flags not visible under gVisor; /proc/mounts:\n%s", lines)
				return
			}
			for _, target := range []string{"/workspace", "/state"} {
				opts := mountOptions(lines, target)
				if opts == nil {
					t.Errorf("%s is not in /proc/mounts:\n%s", target, lines)
					continue
				}
				if !contains(opts, "nosuid") || !contains(opts, "nodev") {
					t.Errorf("%s is mounted %v, want nosuid and nodev", target, opts)
				}
			}
			host, _ := os.ReadFile("/proc/self/mountinfo")
			for _, dir := range []string{spec.Checkout, spec.Mounts[0].Source} {
				if strings.Contains(string(host), " "+dir+" ") {
					t.Errorf("the self-bind of %s is still mounted on the host", dir)
				}
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// mountOptions are the options of target's line in /proc/mounts text.
func mountOptions(mounts, target string) []string {
	for _, l := range strings.Split(mounts, "\n") {
		f := strings.Fields(l)
		if len(f) >= 4 && f[1] == target {
			return strings.Split(f[3], ",")
		}
	}
	return nil
}
