// Package rpc holds the JSON-RPC 2.0 wire names and shapes of CONTRACT.md
// sections 2 and 3: inbound methods, outbound notifications, error codes and
// the envelope types. It is data only: it must not send, store or decide anything.
package rpc
