package workspace

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/claudette-dev/claudette-runner/modules/durable"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

const recordFile = "workspace.json"

// record is what the runner remembers of a workspace, in the data dir where
// the agent cannot change it (it can rewrite .git/config at will).
type record struct {
	WorkspaceID string     `json:"workspaceId"`
	Repository  Repository `json:"repository"`
	Local       bool       `json:"local,omitempty"`
	Commit      string     `json:"commit"`
	Bytes       int64      `json:"bytes"`
	ClonedAt    time.Time  `json:"clonedAt"`
	// GitDir is true once the git dir lives at {dataDir}/workspaces/{id}/git;
	// false for a workspace made before, whose .git is migrated on its next turn.
	GitDir bool `json:"gitDir,omitempty"`
}

// readRecord returns the record, or an error satisfying os.IsNotExist.
func readRecord(path string) (*record, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("read workspace record %s: %w", path, err)
	}
	return &r, nil
}

// writeRecord replaces the record atomically and durably.
func writeRecord(path string, r *record) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := durable.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write workspace record: %w", err)
	}
	return nil
}

// sameSource reports whether two repository locations name the same
// repository: URLs compare by scheme, host (case-insensitive) and path
// without a trailing "/" or ".git"; local paths compare cleaned.
func sameSource(a, b string, local bool) bool {
	if local {
		return filepath.Clean(a) == filepath.Clean(b)
	}
	return canonicalURL(a) == canonicalURL(b)
}

func canonicalURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	p := strings.TrimSuffix(strings.TrimRight(u.Path, "/"), ".git")
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host) + p + "?" + u.RawQuery
}

func isNotExist(err error) bool { return errors.Is(err, os.ErrNotExist) }
