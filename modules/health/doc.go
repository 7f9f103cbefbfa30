// Package health is the operator's view of a running runner: the readiness of
// each component, and the HTTP endpoint that serves /healthz, /readyz and
// /metrics on --listen.
//
// Components register once with Registry.Component and report Ready or
// NotReady(reason) as they go; /readyz is 200 only when all of them are ready.
// The package owns the Prometheus registry every module registers its metrics
// with. It must not know what the components are or do.
package health
