package health

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.uber.org/zap"
)

func TestReadyzNamesWhatIsNotReady(t *testing.T) {
	reg := NewRegistry()
	electric := reg.Component("electric")
	sandbox := reg.Component("sandbox")
	srv := NewServer("127.0.0.1:0", zap.NewNop(), reg, NewMetrics())

	get := func() (int, map[string]any) {
		rec := httptest.NewRecorder()
		srv.readyz(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		var body map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		return rec.Code, body
	}
	if code, _ := get(); code != http.StatusServiceUnavailable {
		t.Fatalf("components just registered: %d, want 503 (starting)", code)
	}
	sandbox.Ready()
	electric.NotReady("electric rejected the token (HTTP 401)")
	code, body := get()
	if code != http.StatusServiceUnavailable || body["status"] != "not ready" {
		t.Fatalf("%d %v", code, body)
	}
	comps := body["components"].([]any)
	first := comps[0].(map[string]any)
	if first["name"] != "electric" || first["reason"] != "electric rejected the token (HTTP 401)" || first["ready"] != false {
		t.Errorf("electric component: %v", first)
	}
	electric.Ready()
	if code, body := get(); code != http.StatusOK || body["status"] != "ready" {
		t.Fatalf("all ready: %d %v", code, body)
	}
	if reg.Component("electric") != electric {
		t.Error("registering a name twice gives another component")
	}
}
