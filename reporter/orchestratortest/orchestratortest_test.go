package orchestratortest_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/reporter/orchestratortest"
)

const token, runnerID = "tok", "runner-1"

func post(t *testing.T, url string, header map[string]string, body string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Claudette-Runner-Id", runnerID)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Do(req)
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
	return resp, err
}

func status(t *testing.T, url string, header map[string]string, body string) int {
	t.Helper()
	resp, err := post(t, url, header, body)
	if err != nil {
		t.Fatalf("post: %v", err)
	}
	return resp.StatusCode
}

const (
	ev1   = `{"jsonrpc":"2.0","method":"conversation.event","params":{"messageId":"m","workspaceId":"w","conversationId":"c","seq":1,"event":{"type":"system"}}}`
	ev2   = `{"jsonrpc":"2.0","method":"conversation.event","params":{"messageId":"m","workspaceId":"w","conversationId":"c","seq":2,"event":{"type":"result"}}}`
	st3   = `{"jsonrpc":"2.0","method":"conversation.state","params":{"messageId":"m","workspaceId":"w","conversationId":"c","seq":3,"state":"finished"}}`
	resp1 = `{"jsonrpc":"2.0","id":"req-1","result":{"status":"completed"}}`
	hb    = `{"jsonrpc":"2.0","method":"runner.heartbeat","params":{"runnerId":"runner-1","version":"v","active":1,"queued":0,"capacity":4}}`
)

func TestRecordsAndQueries(t *testing.T) {
	o := orchestratortest.New(t, orchestratortest.Options{Token: token, RunnerID: runnerID})
	if s := status(t, o.URL, nil, "["+ev1+","+hb+"]"); s != http.StatusOK {
		t.Fatalf("status %d", s)
	}
	if s := status(t, o.URL, nil, "["+ev2+","+st3+","+resp1+","+ev2+"]"); s != http.StatusOK {
		t.Fatalf("status %d", s)
	}
	if got := len(o.Items()); got != 6 {
		t.Fatalf("%d items", got)
	}
	if evs := o.Events("m"); len(evs) != 2 || evs[0].Seq != 1 || evs[1].Seq != 2 || string(evs[1].Event) != `{"type":"result"}` {
		t.Fatalf("events %+v", evs)
	}
	if msg := o.Message("m"); len(msg) != 3 || msg[2].State == nil || msg[2].State.State != "finished" {
		t.Fatalf("message %+v", msg)
	}
	if r, ok := o.Response("req-1"); !ok || string(r.Result) != `{"status":"completed"}` {
		t.Fatalf("response %+v %v", r, ok)
	}
	if _, ok := o.Response(`"req-2"`); ok {
		t.Fatal("found a response never sent")
	}
	if hbs := o.Heartbeats(); len(hbs) != 1 || hbs[0].Capacity != 4 || hbs[0].RunnerID != runnerID {
		t.Fatalf("heartbeats %+v", hbs)
	}
	if d := o.Duplicates(); len(d) != 1 || d[0] != "m#2" {
		t.Fatalf("duplicates %v", d)
	}
	if p := o.OrderProblems(); len(p) != 0 {
		t.Fatalf("order problems %v", p)
	}
	if err := o.ResponseFollowsEvents("req-1", "m"); err == nil {
		t.Fatal("a duplicate event after the response went unnoticed")
	}
	reqs := o.Requests()
	if len(reqs) != 2 || !reqs[1].Accepted || reqs[1].Header.Get("X-Claudette-Runner-Id") != runnerID {
		t.Fatalf("requests %+v", reqs)
	}
}

func TestOrderProblems(t *testing.T) {
	o := orchestratortest.New(t, orchestratortest.Options{})
	status(t, o.URL, nil, "["+ev2+","+ev1+"]")
	if p := o.OrderProblems(); len(p) != 1 || !strings.Contains(p[0], "seq 2 after seq 0") {
		t.Fatalf("order problems %v", p)
	}
}

func TestContractChecks(t *testing.T) {
	tests := map[string]struct {
		header map[string]string
		body   string
		status int
		breach bool
	}{
		"wrong token":          {map[string]string{"Authorization": "Bearer nope"}, "[" + ev1 + "]", 401, false},
		"no bearer":            {map[string]string{"Authorization": "Basic eDp5"}, "[" + ev1 + "]", 401, false},
		"wrong content type":   {map[string]string{"Content-Type": "text/plain"}, "[" + ev1 + "]", 400, true},
		"wrong runner id":      {map[string]string{"X-Claudette-Runner-Id": "other"}, "[" + ev1 + "]", 400, true},
		"not an array":         {nil, ev1, 400, true},
		"empty batch":          {nil, "[]", 400, true},
		"notification with id": {nil, `[{"jsonrpc":"2.0","id":1,"method":"conversation.event","params":{}}]`, 400, true},
		"unknown method":       {nil, `[{"jsonrpc":"2.0","method":"conversation.evnt","params":{}}]`, 400, true},
		"unknown field":        {nil, `[{"jsonrpc":"2.0","method":"conversation.state","params":{"messageId":"m","seq":1,"state":"queued","msgId":"m"}}]`, 400, true},
		"unknown state":        {nil, `[{"jsonrpc":"2.0","method":"conversation.state","params":{"messageId":"m","seq":1,"state":"done"}}]`, 400, true},
		"seq 0":                {nil, `[{"jsonrpc":"2.0","method":"conversation.event","params":{"messageId":"m","seq":0,"event":{}}}]`, 400, true},
		"result and error":     {nil, `[{"jsonrpc":"2.0","id":1,"result":1,"error":{"code":1,"message":"x"}}]`, 400, true},
		"wrong version":        {nil, `[{"jsonrpc":"1.0","id":1,"result":1}]`, 400, true},
		"charset is fine":      {map[string]string{"Content-Type": "application/json; charset=utf-8"}, "[" + ev1 + "]", 200, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			o := orchestratortest.New(t, orchestratortest.Options{Token: token, RunnerID: runnerID, AllowViolations: true})
			if s := status(t, o.URL, tc.header, tc.body); s != tc.status {
				t.Fatalf("status %d, want %d", s, tc.status)
			}
			if v := o.Violations(); (len(v) > 0) != tc.breach {
				t.Fatalf("violations %v, breach expected: %v", v, tc.breach)
			}
			if tc.status != 200 && len(o.Items()) != 0 {
				t.Fatal("items of a refused request were recorded as delivered")
			}
		})
	}
}

func TestScriptedRepliesAndOutage(t *testing.T) {
	o := orchestratortest.New(t, orchestratortest.Options{Token: token, RunnerID: runnerID})
	o.Script(
		orchestratortest.Reply{Status: 503, RetryAfter: "7"},
		orchestratortest.Reply{Drop: true},
		orchestratortest.Reply{Status: 202, Delay: 10 * time.Millisecond},
	)
	o.SetDefault(orchestratortest.Reply{Status: 429})
	body := "[" + ev1 + "]"
	resp, err := post(t, o.URL, nil, body)
	if err != nil || resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "7" {
		t.Fatalf("first reply: %v %v", resp, err)
	}
	if _, err := post(t, o.URL, nil, body); err == nil {
		t.Fatal("dropped connection answered")
	}
	if s := status(t, o.URL, nil, body); s != 202 {
		t.Fatalf("third reply %d", s)
	}
	if s := status(t, o.URL, nil, body); s != 429 {
		t.Fatalf("default reply %d", s)
	}
	if n := len(o.Items()); n != 1 {
		t.Fatalf("%d items accepted, want the one answered 202", n)
	}

	o.SetDefault(orchestratortest.Reply{})
	o.Down()
	if _, err := post(t, o.URL, nil, body); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("post while down: %v, want connection refused", err)
	}
	o.Up(t)
	if s := status(t, o.URL, nil, body); s != 200 {
		t.Fatalf("after up: %d", s)
	}
}

func TestWaitFor(t *testing.T) {
	o := orchestratortest.New(t, orchestratortest.Options{})
	go func() {
		time.Sleep(20 * time.Millisecond)
		_, _ = post(t, o.URL, nil, "["+ev1+","+ev2+"]")
	}()
	o.WaitFor(t, 10*time.Second, func(items []orchestratortest.Item) bool {
		return len(orchestratortest.MessageOf(items, "m")) == 2
	})
	o.WaitRequests(t, 10*time.Second, func(reqs []orchestratortest.Request) bool { return len(reqs) == 1 })
}
