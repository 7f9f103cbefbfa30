package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// turn is one user prompt being answered.
type turn struct {
	start  time.Time
	queued int
}

func (t *turn) elapsedMS() int64 { return time.Since(t.start).Milliseconds() }

// runTurn answers one prompt: init, one tool call per PROBE line, a final
// text and the result line. It returns whether the result is an error.
func (a *agent) runTurn(ctx context.Context, prompt string, queued int) (isError bool) {
	a.inTurn.Store(true)
	defer a.inTurn.Store(false)
	t := &turn{start: time.Now(), queued: queued}
	previous := append([]string(nil), a.sess.prompts...)
	a.record(obj{"type": "user", "message": obj{"role": "user", "content": prompt}, "uuid": newUUID(), "timestamp": timestamp()})
	a.sess.prompts = append(a.sess.prompts, prompt)
	a.emit(a.initLine(), false)

	probes := parseProbes(prompt)
	rounds, okCount := 0, 0
	for i, p := range probes {
		if ctx.Err() != nil {
			return a.finishInterrupted(t, rounds)
		}
		if a.opts.maxTurns > 0 && i >= a.opts.maxTurns {
			return a.finish(t, outcome{subtype: "error_max_turns", isError: true, terminal: "max_turns",
				stopReason: "tool_use", rounds: rounds + 1,
				errors: []string{fmt.Sprintf("Reached maximum number of turns (%d)", a.opts.maxTurns)}})
		}
		rounds++
		toolID := "toolu_demo_bash_" + randHex(6)
		a.emit(a.assistantLine("msg_demo_"+randHex(10), obj{"type": "tool_use", "id": toolID, "name": "Bash",
			"input": obj{"command": p.line, "description": "Run probe " + p.name}}), true)

		switch p.name {
		case "exit":
			code, err := strconv.Atoi(strings.TrimSpace(p.args))
			if err != nil {
				code = 1
			}
			a.out.exit(code)
		case "fail":
			a.emit(a.toolResultLine(toolID, compact(failure(p.args)), true), true)
			return a.finishFailed(t, rounds+1, strings.TrimSpace(p.args))
		}

		f := runProbe(ctx, a, p)
		if f.ok() {
			okCount++
		}
		a.emit(a.toolResultLine(toolID, compact(f), !f.ok()), true)
	}
	if ctx.Err() != nil {
		return a.finishInterrupted(t, rounds)
	}

	rounds++
	text := "Mock reply: " + strings.TrimSpace(prompt)
	if len(probes) > 0 {
		text = fmt.Sprintf("Ran %d probes: %d ok, %d failed.", len(probes), okCount, len(probes)-okCount)
	}
	if n := len(previous); n > 0 {
		text += fmt.Sprintf("\nresumed session %s: turn %d, previous prompt: %q", a.sess.id, n+1, previous[n-1])
	}
	a.emit(a.assistantLine("msg_demo_"+randHex(10), textBlock(text)), true)
	return a.finish(t, outcome{subtype: "success", text: &text, terminal: "completed", stopReason: "end_turn", rounds: rounds})
}

// finish prints the result line (or its text/json form) and reports is_error.
func (a *agent) finish(t *turn, o outcome) bool {
	line := a.resultLine(t, o)
	switch a.opts.outputFormat {
	case "stream-json", "json":
		a.out.line(line)
	default:
		text := strings.Join(o.errors, "\n")
		if o.text != nil {
			text = *o.text
		}
		a.out.batch(func(w *bufio.Writer) {
			w.WriteString(text)
			w.WriteByte('\n')
		})
	}
	return o.isError
}

// finishFailed ends the turn like an API failure: a synthetic assistant
// error message and a result with is_error (subtype success, as the CLI does).
func (a *agent) finishFailed(t *turn, rounds int, text string) bool {
	if text == "" {
		text = "PROBE fail"
	}
	text = "API Error: " + text
	line := a.assistantLine(newUUID(), textBlock(text))
	msg := line["message"].(obj)
	msg["model"], msg["stop_reason"], msg["stop_sequence"] = "<synthetic>", "stop_sequence", ""
	line["error"], line["is_api_error_message"], line["api_error_status"] = "server_error", true, 500
	a.emit(line, true)
	return a.finish(t, outcome{subtype: "success", isError: true, text: &text, terminal: "api_error",
		stopReason: "stop_sequence", rounds: rounds, apiStatus: 500})
}

// finishInterrupted ends a turn cancelled by an interrupt control request.
func (a *agent) finishInterrupted(t *turn, rounds int) bool {
	a.emit(a.interruptedLine(), true)
	return a.finish(t, outcome{subtype: "error_during_execution", isError: true, terminal: "aborted_streaming",
		rounds: rounds + 1, errors: []string{"[ede_diagnostic] result_type=user last_content_type=n/a stop_reason=null"}})
}

func writeJSONLine(w *bufio.Writer, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	w.Write(b)
	w.WriteByte('\n')
}

// sleepForever is the body of the children PROBE fork starts.
func sleepForever() {
	time.Sleep(time.Hour)
	os.Exit(0)
}
