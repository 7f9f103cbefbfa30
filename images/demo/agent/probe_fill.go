package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
)

// probeFill writes size bytes to a new file at path ("PROBE fill /workspace/big
// 100m"), stopping at the first failed write: with a disk limit the file
// system enforces, the error is "disk quota exceeded" or "no space left on
// device".
func probeFill(ctx context.Context, _ *agent, args string) findings {
	fields := strings.Fields(args)
	if len(fields) != 2 {
		return failure("usage: PROBE fill <path> <size>")
	}
	size, err := parseSize(fields[1])
	if err != nil {
		return failErr(err)
	}
	path := filepath.Clean(fields[0])
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return failErr(err, "bytes", 0)
	}
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte('a' + i%26)
	}
	var written int64
	for written < size && ctx.Err() == nil {
		n := min(int64(len(chunk)), size-written)
		m, err := f.Write(chunk[:n])
		written += int64(m)
		if err != nil {
			f.Close()
			return failErr(err, "bytes", written, "path", path)
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return failErr(err, "bytes", written, "path", path)
	}
	if err := f.Close(); err != nil {
		return failErr(err, "bytes", written, "path", path)
	}
	return success("bytes", written, "path", path)
}
