package workspace

import (
	"context"
	"errors"
	"fmt"
	"os"

	"go.uber.org/zap"
)

// Remover deletes a directory tree the runner itself may not be allowed to
// (files the sandbox user created). The sandbox engine provides one.
type Remover interface {
	RemoveTree(ctx context.Context, path string) error
}

// Delete removes workspace id's checkout, agent state and record. Deleting a
// workspace that does not exist is not an error. Each tree is removed with
// os.RemoveAll; where that fails (files the runner may not delete) and
// remover is not nil, remover.RemoveTree gets the tree and the result is
// checked. The record goes last, so a failed Delete can be retried. The caller
// should hold Lock and have stopped the workspace's sandbox.
func (m *Manager) Delete(ctx context.Context, id string, remover Remover) error {
	p, err := m.pathsOf(id)
	if err != nil {
		return err
	}
	unlock, err := m.fs.lock(ctx, id)
	if err != nil {
		return err
	}
	defer unlock()

	for _, dir := range []string{p.checkout, p.agent} {
		if err := m.removeTree(ctx, dir, remover); err != nil {
			return fmt.Errorf("delete workspace %s: %w", id, err)
		}
	}
	if err := m.removeTree(ctx, p.state, remover); err != nil {
		return fmt.Errorf("delete workspace %s: %w", id, err)
	}
	m.log.Debug("workspace deleted", zap.String("workspace_id", id)) // the handler logs it at Info, with the request
	return nil
}

func (m *Manager) removeTree(ctx context.Context, dir string, remover Remover) error {
	err := os.RemoveAll(dir)
	if err == nil {
		return nil
	}
	if remover == nil {
		return fmt.Errorf("remove %s: %w", dir, err)
	}
	m.log.Debug("removing with the sandbox remover", zap.String("dir", dir), zap.Error(err))
	if rerr := remover.RemoveTree(ctx, dir); rerr != nil {
		return fmt.Errorf("remove %s: %w", dir, errors.Join(err, rerr))
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove %s: %w", dir, err)
	}
	return nil
}
