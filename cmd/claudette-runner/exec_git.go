package main

import (
	"fmt"
	"strings"

	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/claudette-dev/claudette-runner/modules/workspace"
	"github.com/go-git/go-git/v5/plumbing"
)

// checkPush checks --branch and --push the way conversation.send's
// repository.branch and repository.push are: push is never or always, the
// branch a valid branch name, and with push always one that
// --git-push-branches allows.
func checkPush(r workspace.Repository, conversationID string, patterns []string) error {
	switch r.Push {
	case workspace.PushNever, workspace.PushAlways:
	default:
		return fmt.Errorf("--push must be %q or %q, got %q", workspace.PushNever, workspace.PushAlways, r.Push)
	}
	branch := r.Branch
	if branch != "" {
		if err := validBranch(branch); err != nil {
			return fmt.Errorf("--branch %q is not a valid branch name: %v", branch, err)
		}
	} else {
		branch = "claudette/" + conversationID
	}
	if r.Push != workspace.PushAlways {
		return nil
	}
	if len(patterns) == 0 {
		return fmt.Errorf("--push always: pushing is off (--git-push-branches is empty)")
	}
	if !config.BranchAllowed(patterns, branch) {
		return fmt.Errorf("--push always: branch %q does not match --git-push-branches %q", branch, strings.Join(patterns, ","))
	}
	return nil
}

// validBranch refuses what git would not take as a branch name, or would
// read as an option or a revision expression.
func validBranch(branch string) error {
	switch {
	case strings.HasPrefix(branch, "-"):
		return fmt.Errorf("it starts with '-'")
	case strings.HasPrefix(branch, "refs/"):
		return fmt.Errorf("give the short name, without refs/")
	case strings.ContainsFunc(branch, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return fmt.Errorf("it contains spaces or control characters")
	case strings.Contains(branch, "@{"):
		return fmt.Errorf("it contains '@{'")
	}
	return plumbing.NewBranchReferenceName(branch).Validate()
}
