package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// probeHugeLine writes ONE raw (non-JSON) stdout line of size bytes plus
// the newline, to test the reader's line limit.
func probeHugeLine(_ context.Context, a *agent, args string) findings {
	size, err := parseSize(args)
	if err != nil {
		return failErr(err)
	}
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	a.out.batch(func(w *bufio.Writer) {
		for left := size; left > 0; {
			n := min(left, int64(len(chunk)))
			w.Write(chunk[:n])
			left -= n
		}
		w.WriteByte('\n')
	})
	return success("bytes", size)
}

// probeFlood writes raw 1 KiB stdout lines (1023 bytes and a newline) until
// size bytes, to test the output limit.
func probeFlood(_ context.Context, a *agent, args string) findings {
	size, err := parseSize(args)
	if err != nil {
		return failErr(err)
	}
	line := append(bytes.Repeat([]byte("f"), 1023), '\n')
	var written, lines int64
	for written < size {
		a.out.batch(func(w *bufio.Writer) {
			for i := 0; i < 256 && written < size; i++ {
				n := min(size-written, int64(len(line)))
				w.Write(line[:n-1])
				w.WriteByte('\n')
				written += n
				lines++
			}
		})
	}
	return success("bytes", written, "lines", lines)
}

// probeEvents writes n well-formed stream-json assistant text lines of
// about size bytes each, as fast as it can (batched flushes), to measure
// the relay's throughput.
func probeEvents(ctx context.Context, a *agent, args string) findings {
	n, size, f := countAndSize("events", args)
	if f != nil {
		return f
	}
	return writeLines(ctx, a, n, size, a.assistantLine("msg_demo_"+randHex(10), textBlock(lineText)))
}

// probeDeltas writes n stream_event text deltas (what the CLI prints per
// token with --include-partial-messages; the probe prints them without the
// flag) of about size bytes each, at least ~200: the smallest real events,
// to measure the relay's throughput per event.
func probeDeltas(ctx context.Context, a *agent, args string) findings {
	n, size, f := countAndSize("deltas", args)
	if f != nil {
		return f
	}
	return writeLines(ctx, a, n, size, a.streamEventLine(obj{
		"type": "content_block_delta", "index": 0, "delta": obj{"type": "text_delta", "text": lineText},
	}))
}

func countAndSize(name, args string) (int, int64, findings) {
	fields := strings.Fields(args)
	if len(fields) != 2 {
		return 0, 0, failure("usage: PROBE " + name + " <n> <size>")
	}
	n, err := strconv.Atoi(fields[0])
	if err != nil || n < 0 {
		return 0, 0, failure("invalid count " + strconv.Quote(fields[0]))
	}
	size, err := parseSize(fields[1])
	if err != nil {
		return 0, 0, failErr(err)
	}
	return n, size, nil
}

// Marks in a line template: the text (padded to the size asked for), the
// line's uuid and its number, replaced in place for every line.
const (
	seqMark  = "SSSSSSSSSS"
	lineText = "event " + seqMark + " "
	uuidMark = "UUUUUUUU-UUUU-UUUU-UUUU-UUUUUUUUUUUU"
)

// writeLines writes n copies of line (which has lineText in a string and a
// top-level uuid), padded to about size bytes, each with its own uuid and
// number, in batched flushes.
func writeLines(ctx context.Context, a *agent, n int, size int64, line obj) findings {
	tmpl, err := json.Marshal(line)
	if err != nil {
		return failErr(err)
	}
	tmpl = bytes.Replace(tmpl, []byte(uuidLineField(tmpl)), []byte(`"uuid":"`+uuidMark+`"`), 1)
	pad := int(size) - len(tmpl) - 1
	if pad < 0 {
		pad = 0
	}
	tmpl = bytes.Replace(tmpl, []byte(lineText), []byte(lineText+strings.Repeat("e", pad)), 1)
	uuidAt := bytes.Index(tmpl, []byte(uuidMark))
	seqAt := bytes.Index(tmpl, []byte(seqMark))

	start := time.Now()
	out := make([]byte, len(tmpl)+1)
	copy(out, tmpl)
	out[len(tmpl)] = '\n'
	var total int64
	for sent := 0; sent < n && ctx.Err() == nil; {
		a.out.batch(func(w *bufio.Writer) {
			for batchBytes := 0; sent < n && batchBytes < 256<<10; sent++ {
				copy(out[uuidAt:], newUUID())
				copy(out[seqAt:], zeroPad(sent+1, len(seqMark)))
				w.Write(out)
				batchBytes += len(out)
				total += int64(len(out))
			}
		})
	}
	elapsed := time.Since(start)
	return success("events", n, "bytes", total, "line_bytes", len(out), "ms", elapsed.Milliseconds())
}

// uuidLineField returns the top-level `"uuid":"..."` field of a marshalled line.
func uuidLineField(b []byte) string {
	i := bytes.LastIndex(b, []byte(`"uuid":"`))
	if i < 0 {
		return "\x00"
	}
	end := bytes.IndexByte(b[i+8:], '"')
	return string(b[i : i+8+end+1])
}

func zeroPad(v, width int) string {
	s := strconv.Itoa(v)
	if len(s) >= width {
		return s[len(s)-width:]
	}
	return strings.Repeat("0", width-len(s)) + s
}
