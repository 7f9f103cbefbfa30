// Package retry is the runner's one retry policy for talking to servers it
// does not control (Electric, the orchestrator): full-jitter exponential
// backoff, the server's Retry-After as a floor, and a sleep that ends with
// its context. It must not decide what is retried: callers classify.
package retry
