package main

import (
	"errors"
	"fmt"

	"github.com/claudette-dev/claudette-runner/modules/workspace"
)

// checkPush checks --branch and --push exactly as conversation.send's
// repository.branch and repository.push are checked (workspace.ValidateGit),
// naming the flag instead of the field.
func checkPush(r workspace.Repository, conversationID string, patterns []string) error {
	branch := r.Branch
	if branch == "" {
		branch = workspace.DefaultBranch(conversationID)
	}
	err := workspace.ValidateGit(r.Push, branch, patterns)
	var fe *workspace.FieldError
	if errors.As(err, &fe) {
		flag := map[string]string{"repository.push": "--push", "repository.branch": "--branch"}[fe.Field]
		return fmt.Errorf("%s %s", flag, fe.Reason)
	}
	return err
}
