package relay

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/claudette-dev/claudette-runner/sandbox"
)

// shimName is the installed binary's file name under {dataDir}/bin.
const shimName = "claudette-runner"

// shimLibDir is where a dynamic shim's loader and libraries are copied, under
// {dataDir}/bin, and mounted in the sandbox (ShimLibDir).
const shimLibDir = "lib"

// ShimProbeReply is what `sandbox-shim --probe` prints: the binary is the
// runner's shim and it starts.
const ShimProbeReply = "claudette-runner sandbox-shim ready"

// shimInstall is the shim as the sandbox runs it: the files to mount and the
// command prefix (the copied loader first when the runner is dynamic).
type shimInstall struct {
	mounts []sandbox.Mount
	prefix []string
	host   []string // the same command on the host, for the probe
}

// installShim copies the shim binary (src, or this executable) to
// dir/claudette-runner and, when it is dynamically linked, its loader and
// libraries to dir/lib, so that every bind-mount source is a path the engine
// sees (the data dir is mounted at the same path in compose). Each copy is
// replaced atomically: a sandbox that still runs keeps the files it mounted.
// The installed shim is then started once on the host with --probe: a
// binary that cannot be the shim is refused now, not at every turn.
func installShim(ctx context.Context, src, dir string) (shimInstall, error) {
	src, err := shimSource(src)
	if err != nil {
		return shimInstall{}, err
	}
	deps, err := dynamicDeps(src)
	if err != nil {
		return shimInstall{}, err
	}
	bin, err := installFile(src, dir, shimName)
	if err != nil {
		return shimInstall{}, err
	}
	in := shimInstall{
		mounts: []sandbox.Mount{{Source: bin, Target: ShimPath, ReadOnly: true}},
		prefix: []string{ShimPath},
		host:   []string{bin},
	}
	if deps.interp != "" {
		libDir := filepath.Join(dir, shimLibDir)
		files := map[string]string{filepath.Base(deps.interp): deps.interp}
		for name, p := range deps.libs {
			files[name] = p
		}
		names := make([]string, 0, len(files))
		for name := range files {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			dst, err := installFile(files[name], libDir, name)
			if err != nil {
				return shimInstall{}, err
			}
			in.mounts = append(in.mounts, sandbox.Mount{Source: dst, Target: ShimLibDir + "/" + name, ReadOnly: true})
		}
		loader := filepath.Base(deps.interp)
		in.prefix = []string{ShimLibDir + "/" + loader, "--library-path", ShimLibDir, ShimPath}
		in.host = []string{filepath.Join(libDir, loader), "--library-path", libDir, bin}
	}
	if err := probeShim(ctx, in.host, src); err != nil {
		return shimInstall{}, err
	}
	return in, nil
}

// probeShim runs the installed shim with --probe and expects its reply.
func probeShim(ctx context.Context, argv []string, src string) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	args := append(append([]string(nil), argv[1:]...), ShimCommand, "--probe")
	cmd := exec.CommandContext(ctx, argv[0], args...)
	cmd.Env = []string{}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err == nil && strings.Contains(out.String(), ShimProbeReply) {
		return nil
	}
	first, _, _ := strings.Cut(strings.TrimSpace(out.String()), "\n")
	if len(first) > 200 {
		first = first[:200]
	}
	return fmt.Errorf("the shim binary %s does not start as the runner's sandbox-shim (%v: %q): %w; run the claudette-runner binary itself, or build it with `make build` (CGO_ENABLED=0)",
		src, err, first, errNotShim)
}

// installFile copies src to dir/name atomically, unless it is there already.
func installFile(src, dir, name string) (string, error) {
	data, err := os.ReadFile(src)
	if err != nil {
		return "", fmt.Errorf("read the shim file %s: %w", src, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", dir, err)
	}
	dst := filepath.Join(dir, name)
	if old, err := os.ReadFile(dst); err == nil && bytes.Equal(old, data) {
		return dst, os.Chmod(dst, 0o755)
	}
	tmp, err := os.CreateTemp(dir, name+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("install the shim file %s: %w", name, err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(0o755)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), dst)
	}
	if err != nil {
		return "", fmt.Errorf("install the shim file %s: %w", name, err)
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

// checkShim is what `validate` checks without installing anything: the
// binary is an ELF whose loader and libraries, if any, can be carried, and it
// answers the probe (run in place, or through the host's loader).
func checkShim(ctx context.Context, src string) error {
	src, err := shimSource(src)
	if err != nil {
		return err
	}
	deps, err := dynamicDeps(src)
	if err != nil {
		return err
	}
	if deps.interp == "" {
		return probeShim(ctx, []string{src}, src)
	}
	return probeShim(ctx, []string{deps.interp, src}, src)
}
