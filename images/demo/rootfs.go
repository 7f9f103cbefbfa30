package demo

import (
	"archive/tar"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"time"
)

// AgentPath is where the fake CLI lives in the image (on PATH as "claude").
const AgentPath = "/usr/local/bin/claude"

// AgentUID and AgentGID are the ids of the image's non-root user "claude".
const (
	AgentUID = 1000
	AgentGID = 1000
)

// Applets are the busybox commands linked into /bin.
var Applets = []string{
	"sh", "ash", "ls", "cat", "echo", "id", "sleep", "rm", "rmdir", "mkdir", "touch", "dd",
	"head", "tail", "grep", "egrep", "fgrep", "wc", "env", "chmod", "chown", "chgrp", "stat",
	"find", "mount", "umount", "ps", "true", "false", "printf", "test", "[", "[[", "cut", "tr",
	"sort", "uniq", "date", "du", "df", "cp", "mv", "ln", "pwd", "uname", "whoami", "hostname",
	"kill", "sed", "awk", "xargs", "tee", "basename", "dirname", "readlink", "realpath", "seq",
	"yes", "timeout", "nproc", "free", "top", "md5sum", "sha256sum", "tar", "gzip", "gunzip",
	"wget", "nc", "ip", "ifconfig", "nslookup", "ping", "less", "more", "vi", "diff", "which",
	"groups", "mktemp", "sync", "fallocate", "truncate", "xxd", "od", "hexdump", "expr", "usleep",
	"setsid", "nice", "time", "uptime", "watch",
}

var epoch = time.Unix(0, 0)

const (
	passwd = "root:x:0:0:root:/root:/bin/sh\n" +
		"claude:x:1000:1000:claude:/home/claude:/bin/sh\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
	group = "root:x:0:\n" +
		"claude:x:1000:\n" +
		"nogroup:x:65534:\n"
)

// writeRootfs writes the image's root filesystem as a tar stream: busybox
// with its applet links, the agent binary, users, the empty directories and,
// when git is not nil, the machine's git (see GitFiles).
func writeRootfs(w io.Writer, agentBinary string, git *GitFiles) error {
	tw := tar.NewWriter(w)
	written := map[string]bool{}
	dirs := []struct {
		name     string
		mode     int64
		uid, gid int
	}{
		{"bin", 0o755, 0, 0}, {"dev", 0o755, 0, 0}, {"etc", 0o755, 0, 0}, {"home", 0o755, 0, 0},
		{"home/claude", 0o755, AgentUID, AgentGID}, {"proc", 0o555, 0, 0}, {"root", 0o700, 0, 0},
		{"run", 0o755, 0, 0}, {"sys", 0o555, 0, 0}, {"tmp", 0o1777, 0, 0}, {"usr", 0o755, 0, 0},
		{"usr/bin", 0o755, 0, 0}, {"usr/local", 0o755, 0, 0}, {"usr/local/bin", 0o755, 0, 0},
		{"var", 0o755, 0, 0}, {"var/tmp", 0o1777, 0, 0}, {"workspace", 0o755, AgentUID, AgentGID},
	}
	for _, d := range dirs {
		hdr := &tar.Header{Typeflag: tar.TypeDir, Name: d.name + "/", Mode: d.mode, Uid: d.uid, Gid: d.gid, ModTime: epoch}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("rootfs dir %s: %w", d.name, err)
		}
		written[d.name] = true
	}
	files := map[string]string{
		"etc/passwd":        passwd,
		"etc/group":         group,
		"etc/hostname":      "claudette-sandbox\n",
		"etc/hosts":         "127.0.0.1\tlocalhost\n::1\tlocalhost\n",
		"etc/nsswitch.conf": "passwd: files\ngroup: files\nhosts: files dns\n",
	}
	for _, name := range []string{"etc/passwd", "etc/group", "etc/hostname", "etc/hosts", "etc/nsswitch.conf"} {
		body := files[name]
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(body)), ModTime: epoch}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("rootfs file %s: %w", name, err)
		}
		if _, err := io.WriteString(tw, body); err != nil {
			return fmt.Errorf("rootfs file %s: %w", name, err)
		}
	}
	if err := copyFile(tw, "bin/busybox", BusyboxPath); err != nil {
		return err
	}
	if err := copyFile(tw, AgentPath[1:], agentBinary); err != nil {
		return err
	}
	links := map[string]string{"var/run": "../run", "usr/bin/env": "/bin/busybox"}
	for _, a := range Applets {
		links["bin/"+a] = "busybox"
	}
	for _, name := range slices.Sorted(maps.Keys(links)) {
		hdr := &tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: links[name], Mode: 0o777, ModTime: epoch}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("rootfs link %s: %w", name, err)
		}
	}
	if err := writeHostFiles(tw, git, written); err != nil {
		return err
	}
	return tw.Close()
}

// writeHostFiles adds the machine's git files at their own paths; a
// directory the layout already has keeps the layout's entry.
func writeHostFiles(tw *tar.Writer, git *GitFiles, written map[string]bool) error {
	if git == nil {
		return nil
	}
	for _, f := range git.files {
		name := f.path[1:]
		switch {
		case f.dir:
			if written[name] {
				continue
			}
			hdr := &tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: int64(f.mode), ModTime: epoch}
			if err := tw.WriteHeader(hdr); err != nil {
				return fmt.Errorf("rootfs dir %s: %w", name, err)
			}
		case f.link != "":
			hdr := &tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: f.link, Mode: 0o777, ModTime: epoch}
			if err := tw.WriteHeader(hdr); err != nil {
				return fmt.Errorf("rootfs link %s: %w", name, err)
			}
		default:
			if err := copyFileMode(tw, name, f.src, int64(f.mode)); err != nil {
				return err
			}
		}
		written[name] = true
	}
	return nil
}

func copyFile(tw *tar.Writer, name, src string) error {
	return copyFileMode(tw, name, src, 0o755)
}

func copyFileMode(tw *tar.Writer, name, src string, mode int64) error {
	f, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("rootfs %s: %w", name, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("rootfs %s: %w", name, err)
	}
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: st.Size(), ModTime: epoch}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("rootfs %s: %w", name, err)
	}
	if _, err := io.Copy(tw, f); err != nil {
		return fmt.Errorf("rootfs %s: %w", name, err)
	}
	return nil
}
