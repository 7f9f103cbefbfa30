package demo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
)

// BusyboxPath is the static busybox (Debian busybox-static) copied into the image.
const BusyboxPath = "/bin/busybox"

// layoutVersion changes whenever the root filesystem layout in rootfs.go
// changes, so the content hash covers it.
const layoutVersion = "demo-rootfs-v2"

// AgentDir returns the directory holding the agent's source
// (images/demo/agent), found next to this file or from the module root.
func AgentDir() (string, error) {
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		dir := filepath.Join(filepath.Dir(file), "agent")
		if st, err := os.Stat(dir); err == nil && st.IsDir() {
			return dir, nil
		}
	}
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("find module root: go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("find module root: not inside a Go module (run from the repository)")
	}
	dir := filepath.Join(filepath.Dir(gomod), "images", "demo", "agent")
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return "", fmt.Errorf("find agent source: %s is not a directory", dir)
	}
	return dir, nil
}

// Hash returns the content hash of the image: the agent's source files
// (tests and testdata excluded), busybox, the machine's git files (see
// FindGit), the root filesystem layout and the Go version (hex sha256).
func Hash() (string, error) {
	git, _, err := FindGit(context.Background())
	if err != nil {
		return "", err
	}
	return hashWith(git)
}

func hashWith(git *GitFiles) (string, error) {
	dir, err := AgentDir()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s/%s\x00", layoutVersion, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	var files []string
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.IsDir() && d.Name() == "testdata":
			return filepath.SkipDir
		case d.Type().IsRegular() && !strings.HasSuffix(path, "_test.go"):
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hash agent source: %w", err)
	}
	sort.Strings(files)
	for _, f := range files {
		rel, _ := filepath.Rel(dir, f)
		fmt.Fprintf(h, "%s\x00", filepath.ToSlash(rel))
		if err := hashFile(h, f); err != nil {
			return "", err
		}
	}
	h.Write([]byte("busybox\x00"))
	if err := hashFile(h, BusyboxPath); err != nil {
		return "", err
	}
	if err := hashGit(h, git); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// hashGit covers every file the image takes from the machine: path, kind,
// mode, link target and content.
func hashGit(w io.Writer, git *GitFiles) error {
	if git == nil {
		_, err := io.WriteString(w, "git\x00none\x00")
		return err
	}
	fmt.Fprintf(w, "git\x00%s\x00", git.Version)
	for _, f := range git.files {
		fmt.Fprintf(w, "%s\x00%t\x00%s\x00%o\x00", f.path, f.dir, f.link, f.mode)
		if f.src != "" {
			if err := hashFile(w, f.src); err != nil {
				return err
			}
		}
	}
	return nil
}

func hashFile(w io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("hash %s: %w", path, err)
	}
	defer f.Close()
	if _, err := io.Copy(w, f); err != nil {
		return fmt.Errorf("hash %s: %w", path, err)
	}
	_, err = w.Write([]byte{0})
	return err
}
