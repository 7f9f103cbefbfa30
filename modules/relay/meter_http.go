package relay

import (
	"context"
	"net/http"
	"strings"
	"sync"
)

// metered says whether a request is one the meter counts: a Messages call
// (token counts and the model list cost nothing).
func metered(req *http.Request) bool {
	return req.Method == http.MethodPost && req.URL.Path == "/v1/messages"
}

// requestMeter is one metered request on its way: the model its body names,
// counted once, whatever happens to it.
type requestMeter struct {
	m     *meter
	sniff *modelSniffer
	once  sync.Once
}

type requestMeterKey struct{}

// track makes req count in the turn's meter when its response ends (or
// never comes).
func (m *meter) track(req *http.Request) *http.Request {
	rm := &requestMeter{m: m, sniff: newModelSniffer(req.Body)}
	req.Body = rm.sniff
	return req.WithContext(context.WithValue(req.Context(), requestMeterKey{}, rm))
}

func (rm *requestMeter) done(u usage) {
	rm.once.Do(func() { rm.m.add(rm.sniff.Model(), u) })
}

func requestMeterOf(req *http.Request) *requestMeter {
	if req == nil {
		return nil
	}
	rm, _ := req.Context().Value(requestMeterKey{}).(*requestMeter)
	return rm
}

// meterResponse reads the usage of a metered response as it passes: SSE or
// JSON when the upstream accepted the request, nothing when it refused it
// (the request counts, with no tokens).
func meterResponse(resp *http.Response) {
	rm := requestMeterOf(resp.Request)
	if rm == nil {
		return
	}
	if resp.StatusCode/100 != 2 {
		rm.done(usage{})
		return
	}
	sse := strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream")
	resp.Body = newUsageReader(resp.Body, sse, rm.done)
}

// meterFailure counts a metered request that got no response.
func meterFailure(req *http.Request) {
	if rm := requestMeterOf(req); rm != nil {
		rm.done(usage{})
	}
}
