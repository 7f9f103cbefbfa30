package relay

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A 10 MB streamed answer passes through the metering relay without being
// held: the heap never grows by more than a fraction of it while it
// streams, including one 2 MB event line, and its usage is still read.
func TestMeter10MB(t *testing.T) {
	const total = 10 << 20
	chunk := "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"" +
		strings.Repeat("x", 4000) + "\"}}\n\n"
	bigLine := []byte("event: content_block_delta\ndata: {\"usage\":\"" + strings.Repeat("y", 2<<20) + "\"}\n\n")
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, `event: message_start`+"\n"+`data: {"type":"message_start","message":{"model":"claude-big","usage":{"input_tokens":7,"output_tokens":1}}}`+"\n\n")
		_, _ = w.Write(bigLine)
		for sent := 0; sent < total; sent += len(chunk) {
			_, _ = io.WriteString(w, chunk)
		}
		fmt.Fprint(w, `event: message_delta`+"\n"+`data: {"type":"message_delta","usage":{"output_tokens":2500000}}`+"\n\n")
	}))
	defer up.Close()
	f := startRelay(t, testConfig(t, up.URL))
	a, _ := f.openMetered(t, MeterState{})

	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
		}
	}()
	c := &http.Client{Transport: &http.Transport{DisableCompression: true, WriteBufferSize: 4 << 10, ReadBufferSize: 4 << 10,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", socketOf(a, modelSocket))
		}}}
	req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:4141/v1/messages", strings.NewReader(`{"model":"claude-big","stream":true}`))
	req.Header.Set("X-Api-Key", a.Token)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReaderSize(resp.Body, 4<<10)
	n, err := io.Copy(io.Discard, br)
	resp.Body.Close()
	close(stop)
	<-sampled
	if err != nil || n < total {
		t.Fatalf("read %d bytes, %v", n, err)
	}
	if grew := int64(peak.Load()) - int64(base.HeapInuse); grew > 6<<20 {
		t.Errorf("the heap grew by %d MB while 10 MB streamed through", grew>>20)
	}
	u := a.Usage().Models["claude-big"]
	if u == nil || u.InputTokens != 7 || u.OutputTokens != 2500000 {
		t.Errorf("usage %+v", u)
	}
}
