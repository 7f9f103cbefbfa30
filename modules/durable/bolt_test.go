package durable_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/claudette-dev/claudette-runner/modules/durable"
	bolt "go.etcd.io/bbolt"
)

// Writes asked for at once share transactions; each is durable when its
// Update returns; a failing one gets its own error and takes none of the
// others down.
func TestGroupCommitsConcurrentWritesTogether(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "g.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	bucket := []byte("b")
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket(bucket); return err }); err != nil {
		t.Fatal(err)
	}
	g := durable.NewGroup(db)
	var mu sync.Mutex
	txs := map[*bolt.Tx]bool{}
	boom := errors.New("boom")
	const n = 200
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = g.Update(func(tx *bolt.Tx) error {
				mu.Lock()
				txs[tx] = true
				mu.Unlock()
				if i%50 == 7 {
					return boom
				}
				return tx.Bucket(bucket).Put([]byte(fmt.Sprint(i)), []byte("v"))
			})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if want := i%50 == 7; want != errors.Is(err, boom) {
			t.Errorf("write %d: %v", i, err)
		}
	}
	err = db.View(func(tx *bolt.Tx) error {
		for i := range n {
			got := tx.Bucket(bucket).Get([]byte(fmt.Sprint(i))) != nil
			if want := i%50 != 7; got != want {
				t.Errorf("key %d stored %v, want %v", i, got, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(txs) >= n {
		t.Errorf("%d writes took %d transactions: none shared", n, len(txs))
	}
	t.Logf("%d writes in %d transactions", n, len(txs))
}
