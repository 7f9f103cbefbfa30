package reporter

import (
	"fmt"
	"github.com/claudette-dev/claudette-runner/modules/durable"
	"os"
	"path/filepath"
	"time"
)

// deadLetterDir is where rejected batches are set aside, under the data dir.
const deadLetterDir = "deadletter"

// writeDeadLetter stores a rejected batch, exactly as it was sent, in
// {dataDir}/deadletter/<time>-<first key>-<last key>.json, synced to disk
// before the batch leaves the outbox.
func writeDeadLetter(dataDir string, b *batch, now time.Time) (string, error) {
	dir := filepath.Join(dataDir, deadLetterDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create dead-letter dir: %w", err)
	}
	name := fmt.Sprintf("%s-%020d-%020d.json", now.UTC().Format("20060102T150405.000000000Z"), b.first, b.last)
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return "", fmt.Errorf("create dead letter: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(b.body)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	path := filepath.Join(dir, name)
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("write dead letter %s: %w", path, err)
	}
	_ = durable.SyncDir(dir) // best effort: the letter itself is already synced
	return path, nil
}
