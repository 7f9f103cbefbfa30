// Package orchestratortest is a recording orchestrator for tests: an httptest
// server speaking the runner's outbound side of CONTRACT.md section 3.
//
// It checks every POST's headers (bearer token, content type, runner id) and
// body (a JSON array of JSON-RPC 2.0 objects), records every request with the
// reply it got, and keeps the items of accepted (2xx) batches, decoded, in the
// order received. Tests script replies (status codes, Retry-After, delays,
// dropped connections), take the server down (connection refused) and up
// again, wait for conditions, and check order and duplicates on the record.
//
// A wrong bearer token gets 401, as from a real orchestrator. Any other
// breach of the contract gets 400 and is recorded as a violation; the test
// fails at cleanup when there was one.
//
// It must not import the runner's packages other than modules/rpc, so that
// any package's tests, and tests of the runner binary, can use it.
package orchestratortest
