package conversation

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/claudette-dev/claudette-runner/modules/durable"
	"io/fs"
	"os"
	"path/filepath"

	"go.uber.org/zap"
)

// promptsDir holds, under the data dir, the prompt of every turn whose
// sandbox may run: the sandbox reads it as stdin (sandbox.Spec.StdinFile), so
// a sandbox adopted after a crash has the whole prompt, never a cut stream.
const promptsDir = "prompts"

// promptPath is the prompt file of a message: named by a hash, since a
// message id is not a file name.
func (m *Manager) promptPath(messageID string) string {
	sum := sha256.Sum256([]byte(messageID))
	return filepath.Join(m.cfg.DataDir, promptsDir, hex.EncodeToString(sum[:16]))
}

// writePrompt writes the turn's prompt file whole before its sandbox is
// created (durable.ReplaceFile: not synced, since only a sandbox reads it,
// and no sandbox outlives the machine; after a crash of the runner the page
// cache has it). Readable by the sandbox user (its directory is
// the runner's only).
func (m *Manager) writePrompt(turn Turn) (string, error) {
	path := m.promptPath(turn.MessageID)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("prompt dir: %w", err)
	}
	if err := durable.ReplaceFile(path, []byte(turn.Prompt), 0o644); err != nil {
		return "", fmt.Errorf("write prompt: %w", err)
	}
	return path, nil
}

// removePrompt forgets a finished turn's prompt.
func (m *Manager) removePrompt(messageID string) {
	if err := os.Remove(m.promptPath(messageID)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		m.log.Warn("cannot remove a finished turn's prompt file", zap.String("message_id", messageID), zap.Error(err))
	}
}

// removeStalePrompts removes the prompt files of turns no record knows
// (forgotten between the removal and a crash). known: message ids.
func (m *Manager) removeStalePrompts(known map[string]bool) {
	keep := map[string]bool{}
	for id := range known {
		keep[filepath.Base(m.promptPath(id))] = true
	}
	dir := filepath.Join(m.cfg.DataDir, promptsDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !keep[e.Name()] {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				m.log.Warn("cannot remove a stale prompt file", zap.String("file", e.Name()), zap.Error(err))
			}
		}
	}
}
