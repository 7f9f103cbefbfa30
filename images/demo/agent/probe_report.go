package main

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// probeReport describes the sandbox as seen from inside: identity,
// capabilities, mounts, writability, Docker sockets, cgroup limits,
// rlimits, hostname, cwd and network interfaces.
func probeReport(context.Context, *agent, string) findings {
	f := success()
	f["uid"], f["gid"], f["euid"] = os.Getuid(), os.Getgid(), os.Geteuid()
	groups, _ := os.Getgroups()
	f["groups"] = groups
	if u, err := user.LookupId(strconv.Itoa(os.Getuid())); err == nil {
		f["user"] = u.Username
	} else {
		f["user"] = ""
	}
	f["pid"], f["ppid"] = os.Getpid(), os.Getppid()
	status := procStatus()
	for _, k := range []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp"} {
		f[k] = status[k]
	}
	mounts := readMounts()
	f["mounts"] = mounts
	for _, m := range mounts {
		if m["path"] == "/" {
			f["root_readonly"] = hasOpt(m["options"].(string), "ro")
		}
	}
	home, _ := os.UserHomeDir()
	cwd, _ := os.Getwd()
	f["writable"] = map[string]any{
		"/": writable("/"), "/etc": writable("/etc"), "/tmp": writable("/tmp"), "cwd": writable(cwd), "home": writable(home),
	}
	f["root_writable"], f["etc_writable"], f["tmp_writable"] = writable("/"), writable("/etc"), writable("/tmp")
	f["docker_sock"] = map[string]bool{"/var/run/docker.sock": exists("/var/run/docker.sock"), "/run/docker.sock": exists("/run/docker.sock")}
	f["cgroup"] = cgroupLimits()
	var nofile syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &nofile); err == nil {
		f["nofile_soft"], f["nofile_hard"] = nofile.Cur, nofile.Max
	}
	f["hostname"], _ = os.Hostname()
	f["cwd"], f["home"] = cwd, home
	f["ncpu"] = runtime.NumCPU()
	f["interfaces"] = interfaces()
	return f
}

func procStatus() map[string]string {
	out := map[string]string{}
	file, err := os.Open("/proc/self/status")
	if err != nil {
		return out
	}
	defer file.Close()
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok {
			out[k] = strings.TrimSpace(v)
		}
	}
	return out
}

// readMounts parses /proc/self/mountinfo: mount point, fs type, mount
// options, superblock options and source.
func readMounts() []map[string]any {
	var mounts []map[string]any
	file, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return mounts
	}
	defer file.Close()
	sc := bufio.NewScanner(file)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		a, b := strings.Fields(pre), strings.Fields(post)
		if !ok || len(a) < 6 || len(b) < 2 {
			continue
		}
		m := map[string]any{"path": unescapeMount(a[4]), "options": a[5], "fstype": b[0], "source": b[1]}
		if len(b) > 2 {
			m["super"] = b[2]
		}
		mounts = append(mounts, m)
	}
	return mounts
}

func unescapeMount(s string) string {
	return strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`).Replace(s)
}

func hasOpt(opts, want string) bool {
	for _, o := range strings.Split(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}

// writable tries to create (and removes) a file in dir.
func writable(dir string) bool {
	if dir == "" {
		return false
	}
	f, err := os.CreateTemp(dir, ".claudette-probe-")
	if err != nil {
		return false
	}
	f.Close()
	os.Remove(f.Name())
	return true
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// cgroupLimits reads the limits from inside: raw values by file name, and
// numbers (-1 = unlimited) under memory_limit, swap_limit (v2) or
// memsw_limit (v1, memory+swap), pids_max, cpu_quota_us, cpu_period_us.
func cgroupLimits() map[string]any {
	const root = "/sys/fs/cgroup"
	out := map[string]any{}
	raw := map[string]string{}
	read := func(path string) (string, bool) {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", false
		}
		v := strings.TrimSpace(string(b))
		raw[strings.TrimPrefix(path, root+"/")] = v
		return v, true
	}
	if exists(filepath.Join(root, "cgroup.controllers")) {
		out["version"] = 2
		if v, ok := read(root + "/memory.max"); ok {
			out["memory_limit"] = limitNumber(v)
		}
		if v, ok := read(root + "/memory.swap.max"); ok {
			out["swap_limit"] = limitNumber(v)
		}
		if v, ok := read(root + "/pids.max"); ok {
			out["pids_max"] = limitNumber(v)
		}
		if v, ok := read(root + "/cpu.max"); ok {
			q, p, _ := strings.Cut(v, " ")
			out["cpu_quota_us"], out["cpu_period_us"] = limitNumber(q), limitNumber(p)
		}
	} else {
		out["version"] = 1
		if v, ok := read(root + "/memory/memory.limit_in_bytes"); ok {
			out["memory_limit"] = limitNumber(v)
		}
		if v, ok := read(root + "/memory/memory.memsw.limit_in_bytes"); ok {
			out["memsw_limit"] = limitNumber(v)
		}
		if v, ok := read(root + "/pids/pids.max"); ok {
			out["pids_max"] = limitNumber(v)
		}
		if v, ok := read(root + "/cpu/cpu.cfs_quota_us"); ok {
			out["cpu_quota_us"] = limitNumber(v)
		}
		if v, ok := read(root + "/cpu/cpu.cfs_period_us"); ok {
			out["cpu_period_us"] = limitNumber(v)
		}
	}
	out["raw"] = raw
	return out
}

// limitNumber parses a cgroup value; "max" and v1's "no limit" values
// (at or above 2^62) become -1.
func limitNumber(v string) int64 {
	if v == "max" {
		return -1
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		if u, err := strconv.ParseUint(v, 10, 64); err == nil && u > 1<<62 {
			return -1
		}
		return -2
	}
	if n >= 1<<62 {
		return -1
	}
	return n
}

func interfaces() []map[string]any {
	list := []map[string]any{}
	ifs, err := net.Interfaces()
	if err != nil {
		return list
	}
	for _, ifc := range ifs {
		var addrs []string
		if as, err := ifc.Addrs(); err == nil {
			for _, a := range as {
				addrs = append(addrs, a.String())
			}
		}
		list = append(list, map[string]any{"name": ifc.Name, "flags": ifc.Flags.String(), "addrs": addrs})
	}
	return list
}
