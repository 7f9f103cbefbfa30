package relay

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"testing"
)

// Every refused destination is reported as an egress_refused event, once per
// host and reason in a turn: a host off the list (CONNECT and plain), a port
// the rule does not allow, a private address, a bad CONNECT.
func TestEgressRefusedEvents(t *testing.T) {
	f, _, secure := egressFixture(t, "allowed.test", "private.test")
	ev := &events{}
	a, err := f.r.Open(context.Background(), Turn{MessageID: "msg-egress", WorkspaceID: "ws-1", ConversationID: "c-1", Notify: ev.notify})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	c := proxyClient(a, secure)
	for range 3 {
		get(t, c, "https://denied.test/") // CONNECT denied.test:443
	}
	get(t, c, "http://denied.test/") // the same host and reason: only counted
	get(t, c, "https://allowed.test:22/")
	get(t, c, "http://private.test/")
	get(t, c, "https://allowed.test/") // allowed: no event
	conn, err := net.Dial("unix", socketOf(a, egressSocket))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "CONNECT noport.test HTTP/1.1\r\nHost: noport.test\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("bad CONNECT: %v %v", resp, err)
	}
	conn.Close()

	got := ev.of("egress_refused")
	want := []map[string]any{
		{"host": "denied.test", "port": float64(443), "reason": reasonHostNotAllowed},
		{"host": "allowed.test", "port": float64(22), "reason": reasonPortNotAllowed},
		{"host": "private.test", "port": float64(80), "reason": reasonPrivateAddress},
		{"host": "noport.test", "port": nil, "reason": reasonBadRequest},
	}
	if len(got) != len(want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	for i, w := range want {
		for k, v := range w {
			if got[i][k] != v {
				t.Errorf("event %d: %s = %v, want %v (%v)", i, k, got[i][k], v, got[i])
			}
		}
	}
}
