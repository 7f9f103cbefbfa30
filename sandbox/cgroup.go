package sandbox

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
)

// cgroupRoot is where the host's cgroup file systems are mounted.
var cgroupRoot = "/sys/fs/cgroup"

// cgroupEvents is what the kernel counted in a container's cgroups: forks
// refused by the pids limit, processes killed on the memory limit.
type cgroupEvents struct {
	pidsMax  int64
	oomKills int64
}

func (e cgroupEvents) merge(o cgroupEvents) cgroupEvents {
	return cgroupEvents{pidsMax: max(e.pidsMax, o.pidsMax), oomKills: max(e.oomKills, o.oomKills)}
}

// CgroupDir returns the host directory of a container's cgroup for a
// controller ("memory", "pids", "cpu"), for the engine's cgroup version and
// driver as the capability probe found them. Containers started with the
// engine's default cgroup parent only; "" when it cannot be known.
func CgroupDir(c Capabilities, controller, containerID string) string {
	var rel string
	switch c.CgroupDriver {
	case "systemd":
		rel = filepath.Join("system.slice", "docker-"+containerID+".scope")
	case "cgroupfs":
		rel = filepath.Join("docker", containerID)
	default:
		return ""
	}
	switch c.CgroupVersion {
	case "1":
		return filepath.Join(cgroupRoot, controller, rel)
	case "2":
		return filepath.Join(cgroupRoot, rel)
	}
	return ""
}

// readCgroupEvents reads the counters of a running container; it returns
// zeros where the files are not visible (a runner in a container without the
// host's cgroup tree, or a runtime that keeps its own).
func readCgroupEvents(c Capabilities, containerID string) cgroupEvents {
	var ev cgroupEvents
	if dir := CgroupDir(c, "pids", containerID); dir != "" {
		ev.pidsMax = keyedValue(filepath.Join(dir, "pids.events"), "max")
	}
	if dir := CgroupDir(c, "memory", containerID); dir != "" {
		if c.CgroupVersion == "2" {
			ev.oomKills = keyedValue(filepath.Join(dir, "memory.events"), "oom_kill")
		} else {
			ev.oomKills = keyedValue(filepath.Join(dir, "memory.oom_control"), "oom_kill")
		}
	}
	return ev
}

// keyedValue reads "key value" lines and returns the value of key, 0 if absent.
func keyedValue(path, key string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) == 2 && string(f[0]) == key {
			n, _ := strconv.ParseInt(string(f[1]), 10, 64)
			return n
		}
	}
	return 0
}
