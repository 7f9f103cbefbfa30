package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const pageSize = 4096

// probeAlloc maps size bytes of anonymous memory in one go and touches
// every page, so the memory cgroup sees all of it (an OOM kill ends the
// process, which is the point of the probe).
func probeAlloc(_ context.Context, _ *agent, args string) findings {
	size, err := parseSize(args)
	if err != nil || size <= 0 {
		return failure("usage: PROBE alloc <size>")
	}
	start := time.Now()
	mem, err := syscall.Mmap(-1, 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return failErr(fmt.Errorf("mmap %d bytes: %w", size, err), "bytes", 0)
	}
	for i := 0; i < len(mem); i += pageSize {
		mem[i] = 1
	}
	mem[len(mem)-1] = 1
	touched := len(mem)
	_ = syscall.Munmap(mem)
	return success("bytes", touched, "ms", time.Since(start).Milliseconds())
}

// probeFork starts n child processes that sleep, counts how many started
// and the first error, then kills and reaps them all. Children die with
// the agent (PR_SET_PDEATHSIG).
func probeFork(ctx context.Context, _ *agent, args string) findings {
	n, err := strconv.Atoi(strings.TrimSpace(args))
	if err != nil || n < 0 {
		return failure("usage: PROBE fork <n>")
	}
	path, argv := "/bin/sleep", []string{"sleep", "3600"}
	if _, err := os.Stat(path); err != nil {
		self, err := os.Executable()
		if err != nil {
			return failErr(err)
		}
		path, argv = self, []string{"claude", hiddenSleep}
	}
	// Spare OS threads now, so the runtime need not create one while the
	// pids limit is exhausted (that would be fatal).
	reserveThreads(4)
	attr := &syscall.ProcAttr{
		Env:   []string{},
		Files: []uintptr{devNull(), devNull(), devNull()},
		Sys:   &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
	}
	pids := make([]int, 0, n)
	var firstErr error
	for i := 0; i < n && ctx.Err() == nil; i++ {
		pid, err := syscall.ForkExec(path, argv, attr)
		if err != nil {
			firstErr = err
			break
		}
		pids = append(pids, pid)
	}
	started := len(pids)
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	for _, pid := range pids {
		var ws syscall.WaitStatus
		_, _ = syscall.Wait4(pid, &ws, 0, nil)
	}
	if firstErr != nil {
		return failErr(firstErr, "requested", n, "started", started)
	}
	if ctx.Err() != nil {
		return failure("interrupted", "requested", n, "started", started)
	}
	return success("requested", n, "started", started)
}

var (
	nullOnce sync.Once
	nullFile *os.File // kept referenced: its finalizer would close the fd
)

func devNull() uintptr {
	nullOnce.Do(func() {
		nullFile, _ = os.OpenFile(os.DevNull, os.O_RDWR, 0)
	})
	if nullFile == nil {
		return 2
	}
	return nullFile.Fd()
}

// reserveThreads makes the runtime create n OS threads and park them idle.
func reserveThreads(n int) {
	var ready, release sync.WaitGroup
	ready.Add(n)
	release.Add(1)
	for range n {
		go func() {
			runtime.LockOSThread()
			ready.Done()
			release.Wait()
			runtime.UnlockOSThread()
		}()
	}
	ready.Wait()
	release.Done()
}

// probeSpin burns CPU on as many threads as there are CPUs for the given
// wall time, and reports the CPU time the process used meanwhile.
func probeSpin(ctx context.Context, _ *agent, args string) findings {
	d, err := parseDuration(args)
	if err != nil {
		return failErr(err)
	}
	threads := runtime.NumCPU()
	prev := runtime.GOMAXPROCS(threads)
	defer runtime.GOMAXPROCS(prev)
	before := cpuTime()
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for range threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x := uint64(1)
			for time.Now().Before(deadline) && ctx.Err() == nil {
				for i := 0; i < 100000; i++ {
					x = x*6364136223846793005 + 1442695040888963407
				}
			}
			sink.Store(x)
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	used := cpuTime() - before
	return success("threads", threads, "gomaxprocs_default", prev, "wall_ms", wall.Milliseconds(),
		"cpu_ms", used.Milliseconds(), "cpus_used", float64(used)/float64(wall))
}

var sink atomic.Uint64

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// probeFillTmp writes to a file in /tmp until size bytes or an error (a
// full tmpfs), reports what it wrote, then removes the file unless the
// argument "keep" follows the size.
func probeFillTmp(ctx context.Context, _ *agent, args string) findings {
	fields := strings.Fields(args)
	if len(fields) == 0 {
		return failure("usage: PROBE filltmp <size> [keep]")
	}
	size, err := parseSize(fields[0])
	if err != nil {
		return failErr(err)
	}
	keep := len(fields) > 1 && fields[1] == "keep"
	f, err := os.CreateTemp("/tmp", ".claudette-filltmp-")
	if err != nil {
		return failErr(err, "bytes", 0)
	}
	path := f.Name()
	if !keep {
		defer os.Remove(path)
	}
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte('a' + i%26)
	}
	var written int64
	for written < size && ctx.Err() == nil {
		n := int64(len(chunk))
		if size-written < n {
			n = size - written
		}
		m, err := f.Write(chunk[:n])
		written += int64(m)
		if err != nil {
			f.Close()
			return failErr(err, "bytes", written, "path", path)
		}
	}
	if err := f.Close(); err != nil {
		return failErr(err, "bytes", written, "path", path)
	}
	return success("bytes", written, "path", filepath.Clean(path), "kept", keep)
}
