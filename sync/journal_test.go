package sync

import bolt "go.etcd.io/bbolt"

// size is the number of journaled ids.
func (j *journal) size() (int, error) {
	var n int
	err := j.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketIDs).Stats().KeyN
		return nil
	})
	return n, err
}

// has reports whether an id is journaled.
func (j *journal) has(id string) (bool, error) {
	var ok bool
	err := j.db.View(func(tx *bolt.Tx) error {
		ok = tx.Bucket(bucketIDs).Get([]byte(id)) != nil
		return nil
	})
	return ok, err
}
