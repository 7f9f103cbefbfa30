package relay

import (
	"bufio"
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// A dynamically linked runner (cgo on: `go build`, `go install`) cannot run
// in a sandbox image that lacks its loader and C library. Rather than refuse
// it, the relay carries what it needs: the ELF interpreter (PT_INTERP) and
// every library it needs (DT_NEEDED, transitively), resolved as the host's
// loader would, are copied beside the shim and mounted read-only, and the
// shim runs through the copied loader with --library-path (glibc's and
// musl's loaders both take it). The image's own C library, if any, is never
// used.

// elfDeps is what a dynamic executable needs beyond itself.
type elfDeps struct {
	interp string            // host path of the loader; "" = static
	libs   map[string]string // soname -> host path
}

// dynamicDeps reads path's interpreter and resolves its libraries; a static
// executable has none. An error names what is missing.
func dynamicDeps(path string) (elfDeps, error) {
	f, err := elf.Open(path)
	if err != nil {
		return elfDeps{}, fmt.Errorf("the shim binary %s is not an ELF executable: %w", path, err)
	}
	defer f.Close()
	var interp string
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			if _, err := p.ReadAt(b, 0); err != nil {
				return elfDeps{}, fmt.Errorf("read the ELF interpreter of %s: %w", path, err)
			}
			interp = strings.TrimRight(string(b), "\x00")
		}
	}
	if interp == "" {
		return elfDeps{}, nil
	}
	if _, err := os.Stat(interp); err != nil {
		return elfDeps{}, fmt.Errorf("the shim binary %s is dynamically linked and its loader %s is missing: %w", path, interp, err)
	}
	deps := elfDeps{interp: interp, libs: map[string]string{}}
	dirs := librarySearchDirs()
	queue := []*elf.File{f}
	var opened []*elf.File
	defer func() {
		for _, o := range opened {
			o.Close()
		}
	}()
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		needed, err := cur.DynString(elf.DT_NEEDED)
		if err != nil {
			return elfDeps{}, fmt.Errorf("read the libraries %s needs: %w", path, err)
		}
		for _, name := range needed {
			if _, done := deps.libs[name]; done || name == filepath.Base(interp) {
				continue
			}
			found, lf, err := findLibrary(name, f, dirs)
			if err != nil {
				return elfDeps{}, fmt.Errorf("the shim binary %s is dynamically linked and needs %s: %w", path, name, err)
			}
			deps.libs[name] = found
			opened = append(opened, lf)
			queue = append(queue, lf)
		}
	}
	return deps, nil
}

// findLibrary looks for soname in dirs and returns the first file of the same
// ELF class and machine as exe (the loader skips the others too).
func findLibrary(soname string, exe *elf.File, dirs []string) (string, *elf.File, error) {
	if strings.Contains(soname, "/") {
		dirs, soname = []string{filepath.Dir(soname)}, filepath.Base(soname)
	}
	for _, d := range dirs {
		p := filepath.Join(d, soname)
		lf, err := elf.Open(p)
		if err != nil {
			continue
		}
		if lf.Class == exe.Class && lf.Machine == exe.Machine {
			return p, lf, nil
		}
		lf.Close()
	}
	return "", nil, fmt.Errorf("not found in %s: %w", strings.Join(dirs, ", "), fs.ErrNotExist)
}

// librarySearchDirs is where the host's loader looks: the directories of
// /etc/ld.so.conf (and what it includes), then the standard ones.
func librarySearchDirs() []string {
	var dirs []string
	seen := map[string]bool{}
	add := func(d string) {
		if d = filepath.Clean(d); filepath.IsAbs(d) && !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	readLdConf("/etc/ld.so.conf", add, 0)
	for _, d := range []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu",
		"/usr/lib/aarch64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib", "/usr/local/lib"} {
		add(d)
	}
	return dirs
}

// readLdConf reads one ld.so.conf file: a directory per line, "include GLOB".
func readLdConf(path string, add func(string), depth int) {
	if depth > 8 {
		return
	}
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		line = strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(line, "include"); ok && (strings.HasPrefix(rest, " ") || strings.HasPrefix(rest, "\t")) {
			pattern := strings.TrimSpace(rest)
			if !filepath.IsAbs(pattern) {
				pattern = filepath.Join(filepath.Dir(path), pattern)
			}
			matches, _ := filepath.Glob(pattern)
			for _, m := range matches {
				readLdConf(m, add, depth+1)
			}
			continue
		}
		if line != "" {
			add(line)
		}
	}
}

// errNotShim marks a binary that is not the runner (it does not answer the
// shim's probe).
var errNotShim = errors.New("not the runner's shim")
