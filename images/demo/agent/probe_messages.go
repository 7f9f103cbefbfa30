package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// probeMessages makes one Messages API call for a given model through
// $ANTHROPIC_BASE_URL, streamed or not: "PROBE messages <model> [json]".
// It reports the status, the API error type of a refusal and the size read,
// so tests can make an agent spend model tokens it does not report honestly.
func probeMessages(ctx context.Context, _ *agent, args string) findings {
	fields := strings.Fields(args)
	if len(fields) == 0 {
		return failure("usage: PROBE messages <model> [json]")
	}
	model, stream := fields[0], !(len(fields) > 1 && fields[1] == "json")
	base := strings.TrimRight(os.Getenv("ANTHROPIC_BASE_URL"), "/")
	if base == "" {
		base = "https://api.anthropic.com"
	}
	url := base + "/v1/messages?beta=true"
	body, _ := json.Marshal(map[string]any{"model": model, "max_tokens": 64, "stream": stream,
		"messages": []map[string]any{{"role": "user", "content": "PROBE messages"}}})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return failErr(err, "url", url)
	}
	req.Header.Set("content-type", "application/json")
	req.Header.Set("anthropic-version", "2023-06-01")
	if k := os.Getenv("ANTHROPIC_API_KEY"); k != "" {
		req.Header.Set("x-api-key", k)
	} else if tok := os.Getenv("ANTHROPIC_AUTH_TOKEN"); tok != "" {
		req.Header.Set("authorization", "Bearer "+tok)
	}
	start := time.Now()
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		return failErr(err, "model", model, "ms", time.Since(start).Milliseconds())
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	f := success("model", model, "stream", stream, "status", resp.StatusCode, "bytes", len(got), "ms", time.Since(start).Milliseconds())
	if err != nil {
		f["ok"], f["error"] = false, err.Error()
	}
	if resp.StatusCode/100 != 2 {
		var apiErr struct {
			Error struct{ Type, Message string } `json:"error"`
		}
		_ = json.Unmarshal(got, &apiErr)
		f["ok"], f["error"], f["error_type"] = false, "HTTP "+resp.Status, apiErr.Error.Type
		f["message"] = apiErr.Error.Message
	}
	return f
}
