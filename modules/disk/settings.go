package disk

import (
	"math"
	"strconv"
	"time"
)

// Settings are the package's own settings (filled from the runner's
// How often a running workspace is measured, and measured again in full.
const (
	DefaultInterval = 2 * time.Second
	DefaultResync   = 15 * time.Minute
)

// configuration by Module).
type Settings struct {
	// Limit is the disk of one workspace in bytes; 0 = none.
	Limit int64
	// MinFree is the free space the workspace and data file systems must keep
	// for new turns to start; 0 = no floor.
	MinFree int64
	// WorkspaceRoot is the root of the checkouts, {workspaceDir}.
	WorkspaceRoot string
	// StateRoot is the root of the workspaces' state, {dataDir}/workspaces.
	StateRoot string
	// DataDir is the runner's data dir (its file system is watched by the Floor).
	DataDir string
	// Interval is how often usage and free space are measured; default 2s.
	Interval time.Duration
	// Resync is how often a watched tree is measured again in full, to correct
	// what no event reported; default 15m.
	Resync time.Duration
}

func (s Settings) withDefaults() Settings {
	if s.Interval <= 0 {
		s.Interval = DefaultInterval
	}
	if s.Resync <= 0 {
		s.Resync = DefaultResync
	}
	return s
}

// Human writes a size for messages, to a tenth: "10 GiB", "512 MiB", "1.5 KiB".
func Human(b int64) string {
	for _, u := range []struct {
		suffix string
		n      float64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if float64(b) >= u.n {
			return strconv.FormatFloat(math.Round(float64(b)/u.n*10)/10, 'f', -1, 64) + " " + u.suffix
		}
	}
	return strconv.FormatInt(b, 10) + " B"
}

// LimitReason is the reason a turn stopped by the runner for its disk gives.
func LimitReason(limit int64) string { return "killed: disk limit " + Human(limit) }
