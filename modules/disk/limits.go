package disk

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"go.uber.org/zap"
)

// Limits sets the file-system limit of each workspace's checkout where the
// workspace root's file system can enforce one.
type Limits struct {
	s     Settings
	log   *zap.Logger
	plan  Plan // the checkouts' root
	state Plan // the state root: always measured by the runner
}

// NewLimits probes the workspace root; nothing changes until Start.
func NewLimits(s Settings, log *zap.Logger) *Limits {
	s = s.withDefaults()
	l := &Limits{s: s, log: log, plan: probe(s.WorkspaceRoot, s.Limit),
		state: Plan{Dir: s.StateRoot, Mode: ModeRunner,
			Why: "agent state and git dir: measured by the runner, counted with the checkout against one limit"}}
	if s.Limit <= 0 {
		l.state = Plan{Dir: s.StateRoot, Mode: ModeNone, Why: "--sandbox-disk 0"}
	}
	return l
}

// Plans says who enforces the limit for which directory, and why.
func (l *Limits) Plans() []Plan { return []Plan{l.plan, l.state} }

// Start enables quotas on a btrfs workspace root (when it cannot, the runner
// enforces the limit instead) and logs the plans.
func (l *Limits) Start() error {
	if l.plan.Mode == ModeBtrfs {
		if err := os.MkdirAll(l.s.WorkspaceRoot, 0o755); err != nil {
			return fmt.Errorf("workspace root: %w", err)
		}
		if err := btrfsEnableQuota(l.s.WorkspaceRoot); err != nil {
			l.plan = Plan{Dir: l.plan.Dir, Mode: ModeRunner, Why: "btrfs, but quotas cannot be enabled: " + err.Error()}
		}
	}
	for _, p := range l.Plans() {
		l.log.Info("disk limit", zap.String("dir", p.Dir), zap.String("mode", string(p.Mode)),
			zap.String("why", p.Why), zap.String("limit", Human(l.s.Limit)))
	}
	return nil
}

// MakeCheckoutDir creates the directory a fresh checkout of workspace id is
// cloned into (then renamed into place): a subvolume on btrfs, a directory of
// the workspace's project with project quotas, a plain directory otherwise.
func (l *Limits) MakeCheckoutDir(id, dir string) error {
	switch l.plan.Mode {
	case ModeBtrfs:
		return btrfsCreateSubvolume(dir)
	case ModeProject:
		if err := os.Mkdir(dir, 0o700); err != nil {
			return err
		}
		return setProject(dir, projectID(id))
	}
	return os.Mkdir(dir, 0o700)
}

// Apply sets workspace id's limit on its checkout before a turn (the setting
// may have changed since the checkout was made) and returns who enforces it
// there: a checkout made before the file system could (a plain directory) is
// left to the runner.
func (l *Limits) Apply(id, checkout string) (Mode, error) {
	switch l.plan.Mode {
	case ModeNone:
		return ModeNone, nil
	case ModeBtrfs:
		if _, ok, err := btrfsSubvolumeID(checkout); err != nil || !ok {
			return ModeRunner, err
		}
		if err := btrfsLimit(checkout, l.s.Limit); err != nil {
			return ModeRunner, err
		}
		return ModeBtrfs, nil
	case ModeProject:
		pid, err := projectOf(checkout)
		if err != nil || pid != projectID(id) {
			return ModeRunner, err
		}
		if err := projectLimit(checkout, pid, l.s.Limit); err != nil {
			return ModeRunner, err
		}
		return ModeProject, nil
	}
	return ModeRunner, nil
}

// Release frees what the file system kept for workspace id's checkout: its
// subvolume (with everything in it) and qgroup, or its project's limit. The
// caller removes the trees afterwards; a checkout that is a plain directory,
// or gone, is left to it.
func (l *Limits) Release(id string) error {
	if id == "" || filepath.Base(id) != id || id[0] == '.' {
		return fmt.Errorf("release disk of workspace %q: not a workspace id", id)
	}
	checkout := filepath.Join(l.s.WorkspaceRoot, id)
	switch l.plan.Mode {
	case ModeBtrfs:
		sub, ok, err := btrfsSubvolumeID(checkout)
		if errors.Is(err, os.ErrNotExist) || (err == nil && !ok) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := btrfsDestroySubvolume(checkout); err != nil {
			return err
		}
		if err := btrfsRemoveQgroup(filepath.Dir(checkout), sub); err != nil {
			l.log.Debug("stale qgroup left", zap.String("workspace_id", id), zap.Error(err))
		}
	case ModeProject:
		pid, err := projectOf(checkout)
		if errors.Is(err, os.ErrNotExist) || (err == nil && pid != projectID(id)) {
			return nil
		}
		if err != nil {
			return err
		}
		return projectLimit(filepath.Dir(checkout), pid, 0)
	}
	return nil
}
