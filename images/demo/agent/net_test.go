package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// recorder is an httptest handler that records requests.
type recorder struct {
	mu   sync.Mutex
	reqs []*http.Request
	body []string
}

func (r *recorder) record(req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = append(r.reqs, req)
	r.body = append(r.body, string(b))
}

func (r *recorder) last(t *testing.T) (*http.Request, string) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.reqs) == 0 {
		t.Fatal("no request recorded")
	}
	return r.reqs[len(r.reqs)-1], r.body[len(r.body)-1]
}

func TestProbeModelSendsTheCLICredentials(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		rec.record(req)
		w.Header().Set("content-type", "text/event-stream")
		fmt.Fprint(w, "event: message_start\ndata: {}\n\nevent: message_stop\ndata: {}\n\n")
	}))
	defer srv.Close()

	tests := map[string]struct {
		env   []string
		check func(h http.Header) bool
	}{
		"api key":    {[]string{"ANTHROPIC_API_KEY=sk-test"}, func(h http.Header) bool { return h.Get("x-api-key") == "sk-test" && h.Get("authorization") == "" }},
		"auth token": {[]string{"ANTHROPIC_API_KEY=", "ANTHROPIC_AUTH_TOKEN=tok"}, func(h http.Header) bool { return h.Get("authorization") == "Bearer tok" && h.Get("x-api-key") == "" }},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := newProc(t)
			p.env = append([]string{"ANTHROPIC_BASE_URL=" + srv.URL + "/"}, tc.env...)
			out, _, code := p.run("PROBE model", streamArgs...)
			f := probeResults(t, parseLines(t, out))
			if code != 0 || len(f) != 1 || f[0]["ok"] != true || f[0]["status"] != float64(200) || f[0]["events"] != float64(2) {
				t.Fatalf("exit %d findings %v", code, f)
			}
			req, body := rec.last(t)
			if req.Method != http.MethodPost || req.URL.RequestURI() != "/v1/messages?beta=true" ||
				req.Header.Get("anthropic-version") != "2023-06-01" || !tc.check(req.Header) || !strings.Contains(body, `"stream":true`) {
				t.Fatalf("request %s %s headers %v body %s", req.Method, req.URL, req.Header, body)
			}
		})
	}
}

func TestProbeHTTPHonoursProxy(t *testing.T) {
	rec := &recorder{}
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		rec.record(req)
		fmt.Fprint(w, "via proxy")
	}))
	defer proxy.Close()
	p := newProc(t)
	p.env = []string{"HTTP_PROXY=" + proxy.URL}
	out, _, _ := p.run("PROBE http http://egress.example.invalid/path", streamArgs...)
	f := probeResults(t, parseLines(t, out))
	if len(f) != 1 || f[0]["status"] != float64(200) || f[0]["body"] != "via proxy" {
		t.Fatalf("findings %v", f)
	}
	if req, _ := rec.last(t); req.URL.String() != "http://egress.example.invalid/path" {
		t.Fatalf("proxy saw %s", req.URL)
	}
}

func TestProbeConnect(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // now refused
	open, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	go func() {
		for {
			c, err := open.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	out, _, _ := newProc(t).run("PROBE connect "+open.Addr().String()+"\nPROBE connect "+addr+" 1s\nPROBE resolve localhost", streamArgs...)
	f := probeResults(t, parseLines(t, out))
	if len(f) != 3 || f[0]["ok"] != true || f[1]["ok"] != false || f[2]["ok"] != true {
		t.Fatalf("findings %v", f)
	}
}
