package relay

import (
	"fmt"
	"strings"

	"github.com/claudette-dev/claudette-runner/modules/config"
)

// Why a push is refused: the values of the reason label of
// claudette_relay_git_push_refused_total. A small fixed set.
const (
	refusedPushingOff  = "pushing_off"
	refusedNotAllowed  = "branch_not_allowed"
	refusedOtherRef    = "other_ref"
	refusedTag         = "tag"
	refusedDeletion    = "deletion"
	refusedTooLarge    = "too_large"
	refusedWithTheRest = "with_the_rest"
	refusedByUpstream  = "upstream"
	refusedUnreachable = "unreachable"
	refusedMalformed   = "malformed"
)

// pushVerdict is the policy's answer for each command of a push: empty
// when every one may go on, else a reason (label and text) for each.
type pushVerdict struct {
	labels, reasons []string
}

func (v pushVerdict) refused() bool { return v.labels != nil }

// checkPush applies the ref policy: a push may only create or update
// refs/heads/<branch>, and only when branch matches the operator's
// --git-push-branches. One refused command refuses the whole push, so that
// nothing of it reaches the repository.
func checkPush(cfg *config.Config, branch string, p pushRequest) pushVerdict {
	own := "refs/heads/" + branch
	v := pushVerdict{labels: make([]string, len(p.Commands)), reasons: make([]string, len(p.Commands))}
	bad := false
	for i, c := range p.Commands {
		label, reason := "", ""
		switch {
		case len(cfg.Git.PushBranches) == 0:
			label, reason = refusedPushingOff, "pushing is off on this runner"
		case isZeroID(c.New):
			label, reason = refusedDeletion, "deleting a ref is not allowed"
		case strings.HasPrefix(c.Ref, "refs/tags/"):
			label, reason = refusedTag, "tags are not pushed; push refs/heads/"+branch
		case c.Ref != own:
			label, reason = refusedOtherRef, "only "+own+" may be pushed"
		case !config.BranchAllowed(cfg.Git.PushBranches, branch):
			label, reason = refusedNotAllowed, fmt.Sprintf("branch %s is not in the runner's --git-push-branches", branch)
		}
		if label != "" {
			bad = true
			v.labels[i], v.reasons[i] = label, "git relay: "+reason
		}
	}
	if !bad {
		return pushVerdict{}
	}
	for i := range v.labels {
		if v.labels[i] == "" {
			v.labels[i], v.reasons[i] = refusedWithTheRest, "git relay: refused with the rest of the push"
		}
	}
	return v
}

// sizeVerdict refuses every command of a push bigger than the limit.
func sizeVerdict(p pushRequest, limit config.ByteSize) pushVerdict {
	v := pushVerdict{labels: make([]string, len(p.Commands)), reasons: make([]string, len(p.Commands))}
	for i := range p.Commands {
		v.labels[i] = refusedTooLarge
		v.reasons[i] = fmt.Sprintf("git relay: push larger than the runner's --git-push-max-size (%d bytes)", int64(limit))
	}
	return v
}
