// Package electrictest is a fake ElectricSQL server for tests: an httptest
// server that speaks the HTTP Shape API (GET /v1/shape) as the real
// sync service 1.7.x does, from a table the test writes to with Insert,
// Update and Delete.
//
// It follows the fake-server checklist of shared/electric/PROTOCOL.md:
// validation with the real 400 bodies, one shape log per definition with
// handles `<n>-<micros>`, a chunked initial snapshot ending in
// `snapshot-end`, live long-polls held until a change, a rotation or the
// hold timeout (200 `[up-to-date]`), strictly increasing `electric-cursor`,
// 409 must-refetch (also for a held request), replica default/full, ETags,
// cache-control, and fault injection (status codes with Retry-After, a
// connection dropped mid-body, a hung request, missing headers, the legacy
// 204 live response). Every request is recorded for assertions.
//
// Use:
//
//	srv := electrictest.New(t, electrictest.WithBearerToken("tok"), electrictest.WithLiveHold(time.Second))
//	srv.InsertMessage("m-1", "runner-1", "ws-1", []byte(`{"jsonrpc":"2.0","id":"r1","method":"runner.ping"}`))
//	// point the runner at srv.URL() (CLAUDETTE_ELECTRICSQL_URL), then:
//	srv.Delete("m-1"); srv.Rotate(); srv.Inject(electrictest.Unavailable("1"))
//	reqs := srv.Requests() // method, query, headers, status, fault of each request
//
// Where it departs from the real server (see the package's tests): chunks
// are counted in rows, not bytes; `where` is limited to `<col> = $n` or
// `<col> = '<text>'`; SSE, subset snapshots, POST and DELETE are not served;
// the bearer-token check models an auth proxy in front of Electric; a jsonb
// value that is not JSON is passed through (real Postgres would refuse it).
//
// It owns nothing outside the test that creates it and must not import the
// runner's packages: it is the other side of the wire.
package electrictest
