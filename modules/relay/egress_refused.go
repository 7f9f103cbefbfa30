package relay

import (
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/claudette-dev/claudette-runner/modules/rpc"
)

// refusal is an egress destination the policy does not allow, and why: a
// reasonHostNotAllowed, reasonPortNotAllowed, reasonPrivateAddress or
// reasonBadRequest.
type refusal struct {
	reason, host, port, msg string
}

func (r *refusal) Error() string { return errRefused.Error() + ": " + r.msg }

// Is makes a refusal errRefused, and a private address also errPrivate.
func (r *refusal) Is(target error) bool {
	return target == errRefused || (target == errPrivate && r.reason == reasonPrivateAddress)
}

// refusal is nil when host may be reached on port, else why not.
func (rs rules) refusal(host, port string) error {
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return &refusal{reason: reasonBadRequest, host: host, port: port, msg: fmt.Sprintf("bad port %q", port)}
	}
	switch rs.check(host, p) {
	case "":
		return nil
	case reasonPortNotAllowed:
		return &refusal{reason: reasonPortNotAllowed, host: host, port: port,
			msg: fmt.Sprintf("port %d of host %s is not allowed", p, host)}
	}
	return &refusal{reason: reasonHostNotAllowed, host: host, port: port, msg: fmt.Sprintf("host %s is not allowed", host)}
}

// maxEventHost bounds the host name an egress_refused event carries.
const maxEventHost = 255

// refusedKey is what an egress_refused event is raised once per turn for.
type refusedKey struct{ host, reason string }

// report raises the egress_refused event of a refusal the first time its
// host and reason are refused in the turn; later ones are only counted (in
// the egress metric and here).
func (e *egress) report(target string, err error) {
	var rf *refusal
	if !errors.As(err, &rf) {
		rf = &refusal{reason: reasonBadRequest, host: target}
	}
	host, port := rf.host, rf.port
	if port == "" {
		if h, p, err := net.SplitHostPort(target); err == nil && host == target {
			host, port = h, p
		}
	}
	host = normalizeHost(host)
	if len(host) > maxEventHost { // the agent chose it: bound what the stream carries
		host = host[:maxEventHost]
	}
	key := refusedKey{host: host, reason: rf.reason}
	e.mu.Lock()
	e.refused[key]++
	first := e.refused[key] == 1
	e.mu.Unlock()
	if !first {
		return
	}
	fields := map[string]any{"host": host, "port": nil, "reason": rf.reason}
	if p, err := strconv.Atoi(port); err == nil {
		fields["port"] = p
	}
	e.turn.turn.notify(rpc.RunnerEvent(rpc.RunnerEgressRefused, fields))
}
