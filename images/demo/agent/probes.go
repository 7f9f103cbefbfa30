package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// probe is one "PROBE <name> <args>" line of a prompt.
type probe struct {
	line string // the whole line, shown as the Bash command
	name string
	args string // the rest of the line after the name
}

// parseProbes returns the prompt's probe lines in order.
func parseProbes(prompt string) []probe {
	var probes []probe
	for _, l := range strings.Split(prompt, "\n") {
		l = strings.TrimSpace(l)
		rest, ok := strings.CutPrefix(l, "PROBE ")
		if !ok {
			continue
		}
		name, args, _ := strings.Cut(strings.TrimSpace(rest), " ")
		probes = append(probes, probe{line: l, name: name, args: strings.TrimSpace(args)})
	}
	return probes
}

// findings is a probe's report, sent as the tool result: always has "ok",
// and "error" when ok is false.
type findings map[string]any

func (f findings) ok() bool { v, _ := f["ok"].(bool); return v }

func success(kv ...any) findings {
	f := findings{"ok": true}
	for i := 0; i+1 < len(kv); i += 2 {
		f[kv[i].(string)] = kv[i+1]
	}
	return f
}

func failure(msg string, kv ...any) findings {
	f := success(kv...)
	f["ok"], f["error"] = false, msg
	return f
}

func failErr(err error, kv ...any) findings { return failure(err.Error(), kv...) }

func compact(f findings) string {
	b, err := json.Marshal(f)
	if err != nil {
		return fmt.Sprintf(`{"ok":false,"error":%q}`, err.Error())
	}
	return string(b)
}

type probeFunc func(ctx context.Context, a *agent, args string) findings

var probeTable map[string]probeFunc

func init() {
	probeTable = map[string]probeFunc{
		"write": probeWrite, "read": probeRead, "ls": probeLs, "env": probeEnv, "stderr": probeStderr,
		"sleep": probeSleep, "alloc": probeAlloc, "fork": probeFork, "spin": probeSpin, "filltmp": probeFillTmp,
		"hugeline": probeHugeLine, "flood": probeFlood, "events": probeEvents, "deltas": probeDeltas,
		"report": probeReport, "sh": probeSh, "fill": probeFill,
		"connect": probeConnect, "resolve": probeResolve, "http": probeHTTP, "model": probeModel, "messages": probeMessages,
	}
}

// runProbe runs one probe; a panic becomes an ok:false finding.
func runProbe(ctx context.Context, a *agent, p probe) (f findings) {
	fn, ok := probeTable[p.name]
	if !ok {
		return failure("unknown probe " + strconv.Quote(p.name))
	}
	defer func() {
		if r := recover(); r != nil {
			f = failure(fmt.Sprintf("probe panicked: %v", r))
		}
	}()
	return fn(ctx, a, p.args)
}

// parseSize reads sizes like 512, 64k, 512m, 2g, 1.5G, 10MiB (binary units).
func parseSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "ib"), "b")
	mult := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'k':
			mult = 1 << 10
		case 'm':
			mult = 1 << 20
		case 'g':
			mult = 1 << 30
		case 't':
			mult = 1 << 40
		}
		if mult > 1 {
			t = t[:n-1]
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	return int64(v * float64(mult)), nil
}

// parseDuration reads Go durations (5s, 300ms) or plain seconds.
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if v, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(v * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q", s)
	}
	return d, nil
}

func probeWrite(_ context.Context, _ *agent, args string) findings {
	path, text, _ := strings.Cut(args, " ")
	if path == "" {
		return failure("usage: PROBE write <path> <text...>")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return failErr(err, "path", path)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		return failErr(err, "path", path)
	}
	return success("path", path, "size", len(text))
}

const maxRead = 1 << 20

func probeRead(_ context.Context, _ *agent, args string) findings {
	if args == "" {
		return failure("usage: PROBE read <path>")
	}
	f, err := os.Open(args)
	if err != nil {
		return failErr(err, "path", args)
	}
	defer f.Close()
	buf := make([]byte, maxRead+1)
	n, err := readFull(f, buf)
	if err != nil {
		return failErr(err, "path", args)
	}
	return success("path", args, "size", min(n, maxRead), "content", string(buf[:min(n, maxRead)]), "truncated", n > maxRead)
}

func readFull(f *os.File, buf []byte) (int, error) {
	n, err := io.ReadFull(f, buf)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		err = nil
	}
	return n, err
}

func probeLs(_ context.Context, _ *agent, args string) findings {
	dir := args
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return failErr(err, "path", dir)
	}
	list := make([]findings, 0, len(entries))
	for _, e := range entries {
		item := findings{"name": e.Name(), "dir": e.IsDir()}
		if info, err := e.Info(); err == nil {
			item["size"], item["mode"] = info.Size(), info.Mode().String()
			if st, ok := info.Sys().(*syscall.Stat_t); ok {
				item["uid"], item["gid"] = st.Uid, st.Gid
			}
		}
		list = append(list, item)
	}
	return success("path", dir, "entries", list)
}

func probeEnv(context.Context, *agent, string) findings {
	env := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	return success("env", env)
}

func probeStderr(_ context.Context, _ *agent, args string) findings {
	if _, err := fmt.Fprintln(os.Stderr, args); err != nil {
		return failErr(err)
	}
	return success("bytes", len(args)+1)
}

func probeSleep(ctx context.Context, _ *agent, args string) findings {
	d, err := parseDuration(args)
	if err != nil {
		return failErr(err)
	}
	start := time.Now()
	select {
	case <-time.After(d):
		return success("ms", time.Since(start).Milliseconds())
	case <-ctx.Done():
		return failure("interrupted", "ms", time.Since(start).Milliseconds())
	}
}
