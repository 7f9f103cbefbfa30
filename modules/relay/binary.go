package relay

import (
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
)

// shimName is the installed binary's file name under {dataDir}/bin.
const shimName = "claudette-runner"

// installBinary copies the shim binary (src, or this executable) to
// dir/claudette-runner, so that a bind-mount source is a path the engine
// sees (the data dir is mounted at the same path in compose). The copy is
// replaced atomically: a sandbox that still runs keeps the file it mounted.
// The binary must be static: sandbox images need not have a C library.
func installBinary(src, dir string) (string, error) {
	src, err := shimSource(src)
	if err != nil {
		return "", err
	}
	if err := checkStatic(src); err != nil {
		return "", err
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return "", fmt.Errorf("read the shim binary: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", dir, err)
	}
	dst := filepath.Join(dir, shimName)
	if old, err := os.ReadFile(dst); err == nil && bytes.Equal(old, data) {
		return dst, os.Chmod(dst, 0o755)
	}
	tmp, err := os.CreateTemp(dir, shimName+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("install the shim binary: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return "", fmt.Errorf("install the shim binary: %w", err)
	}
	if err := tmp.Chmod(0o755); err != nil {
		tmp.Close()
		return "", fmt.Errorf("install the shim binary: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", fmt.Errorf("install the shim binary: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("install the shim binary: %w", err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return "", fmt.Errorf("install the shim binary: %w", err)
	}
	return dst, nil
}

// shimSource is the binary the shim is copied from: src, or this executable.
func shimSource(src string) (string, error) {
	if src != "" {
		return src, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find the runner's executable: %w", err)
	}
	return exe, nil
}

// checkStatic refuses a dynamically linked executable (one with an ELF
// interpreter): it would not start in a sandbox image without that loader.
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("the shim binary %s is not an ELF executable: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("the shim binary %s is dynamically linked; build the runner static (CGO_ENABLED=0, as `make build` does)", path)
		}
	}
	return nil
}
