package demo

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// CACertsPath is the CA bundle copied into the image (git's libcurl reads it).
const CACertsPath = "/etc/ssl/certs/ca-certificates.crt"

// gitTemplates is where Debian's git keeps `git init`'s templates.
const gitTemplates = "/usr/share/git-core/templates"

// hostFile is a file of the build machine copied into the image at the
// same path: a regular file (symlinks in the way resolved), a symlink kept
// as one, or a directory.
type hostFile struct {
	path string // absolute, in the image and on the host
	src  string // what to read: path with its symlinks resolved ("" for a link or dir)
	link string // symlink target, kept as is
	dir  bool
	mode fs.FileMode
}

// GitFiles is what the image carries of the build machine's git: the git
// CLI, its exec path (git-remote-http(s) and the rest of git-core), its
// templates, every library `ldd` lists for them with the dynamic loader, and
// the CA certificates. Version is `git --version`.
type GitFiles struct {
	Version string
	files   []hostFile
}

// FindGit collects the machine's git for the image. A machine without git
// gives a nil GitFiles and the reason (no error): the image is built
// without git and says so.
func FindGit(ctx context.Context) (*GitFiles, string, error) {
	gitPath, err := exec.LookPath("git")
	if err != nil {
		return nil, "no git on this machine (apt-get install git): the demo image is built without git", nil
	}
	gitPath, err = filepath.Abs(gitPath)
	if err != nil {
		return nil, "", fmt.Errorf("find git: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	version, err := output(ctx, gitPath, "--version")
	if err != nil {
		return nil, "", fmt.Errorf("find git: %s --version: %w", gitPath, err)
	}
	execPath, err := output(ctx, gitPath, "--exec-path")
	if err != nil {
		return nil, "", fmt.Errorf("find git: %s --exec-path: %w", gitPath, err)
	}
	if _, err := os.Stat(filepath.Join(execPath, "git-remote-http")); err != nil {
		return nil, "", fmt.Errorf("find git: no git-remote-http in %s (git over HTTP needs it): %w", execPath, err)
	}

	c := collector{seen: map[string]bool{}}
	if err := c.add(gitPath); err != nil {
		return nil, "", err
	}
	for _, tree := range []string{execPath, gitTemplates} {
		if err := c.addTree(tree); err != nil {
			return nil, "", err
		}
	}
	if _, err := os.Stat(CACertsPath); err == nil {
		if err := c.add(CACertsPath); err != nil {
			return nil, "", err
		}
	}
	for _, bin := range slices.Clone(c.files) {
		if bin.src == "" || !isDynamicELF(bin.src) {
			continue
		}
		libs, err := ldd(ctx, bin.src)
		if err != nil {
			return nil, "", err
		}
		for _, lib := range libs {
			if err := c.add(lib); err != nil {
				return nil, "", err
			}
		}
	}
	slices.SortFunc(c.files, func(a, b hostFile) int { return strings.Compare(a.path, b.path) })
	return &GitFiles{Version: version, files: c.files}, "", nil
}

// Paths lists the files the image gets from the machine, for a build's output.
func (g *GitFiles) Paths() []string {
	if g == nil {
		return nil
	}
	var out []string
	for _, f := range g.files {
		if !f.dir {
			out = append(out, f.path)
		}
	}
	return out
}

type collector struct {
	files []hostFile
	seen  map[string]bool
}

// add copies path as a regular file (its symlinks resolved) with its
// parent directories.
func (c *collector) add(path string) error {
	if c.seen[path] {
		return nil
	}
	src, err := filepath.EvalSymlinks(path)
	if err != nil {
		return fmt.Errorf("find git: %w", err)
	}
	st, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("find git: %w", err)
	}
	c.parents(path)
	c.seen[path] = true
	c.files = append(c.files, hostFile{path: path, src: src, mode: st.Mode().Perm()})
	return nil
}

// addTree copies a directory tree, keeping symlinks inside it as symlinks.
func (c *collector) addTree(root string) error {
	if _, err := os.Stat(root); err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return fmt.Errorf("find git: %w", err)
	}
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("find git: %w", err)
		}
		switch {
		case d.IsDir():
			c.dir(path)
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return fmt.Errorf("find git: %w", err)
			}
			c.parents(path)
			c.seen[path] = true
			c.files = append(c.files, hostFile{path: path, link: target, mode: 0o777})
		case d.Type().IsRegular():
			return c.add(path)
		}
		return nil
	})
}

func (c *collector) parents(path string) {
	for dir := filepath.Dir(path); dir != "/" && dir != "."; dir = filepath.Dir(dir) {
		c.dir(dir)
	}
}

func (c *collector) dir(path string) {
	if c.seen[path] {
		return
	}
	c.seen[path] = true
	c.parents(path)
	c.files = append(c.files, hostFile{path: path, dir: true, mode: 0o755})
}

// isDynamicELF reports whether path is an ELF file with a program interpreter.
func isDynamicELF(path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return true
		}
	}
	return false
}

// ldd returns the absolute paths `ldd` lists for a binary: its libraries and
// the dynamic loader (the vDSO has no file and is left out).
func ldd(ctx context.Context, bin string) ([]string, error) {
	out, err := exec.CommandContext(ctx, "ldd", bin).Output()
	if err != nil {
		return nil, fmt.Errorf("find git: ldd %s: %w", bin, err)
	}
	libs, err := parseLdd(out)
	if err != nil {
		return nil, fmt.Errorf("find git: ldd %s: %w", bin, err)
	}
	return libs, nil
}

// parseLdd reads ldd's lines: "libz.so.1 => /lib/x86_64-linux-gnu/libz.so.1
// (0x...)", "/lib64/ld-linux-x86-64.so.2 (0x...)", "linux-vdso.so.1 (0x...)".
// A library ldd could not find ("=> not found") is an error.
func parseLdd(out []byte) ([]string, error) {
	var libs []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line == "statically linked" {
			continue
		}
		name, target, arrow := strings.Cut(line, "=>")
		if arrow {
			target = strings.TrimSpace(target)
			if strings.HasPrefix(target, "not found") {
				return nil, fmt.Errorf("library %s not found", strings.TrimSpace(name))
			}
		} else {
			target = name
		}
		path, _, _ := strings.Cut(strings.TrimSpace(target), " (")
		path = strings.TrimSpace(path)
		if filepath.IsAbs(path) {
			libs = append(libs, path)
		}
	}
	return libs, sc.Err()
}

func output(ctx context.Context, name string, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, name, args...).Output()
	return strings.TrimSpace(string(out)), err
}
