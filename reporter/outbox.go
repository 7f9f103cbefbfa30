package reporter

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// The outbox is one bbolt file with one bucket. Keys are 8-byte big-endian
// sequence numbers (the bucket's own sequence, so they only grow, also across
// restarts); a value is a header followed by the item's JSON:
//
//	byte 0     format version (1)
//	bytes 1-8  commit time, Unix nanoseconds, big-endian (delivery latency)
//	bytes 9-   the JSON-RPC object, exactly as it is sent
const (
	headerLen     = 9
	formatVersion = 1
	outboxFile    = "outbox.db"
)

var bucketItems = []byte("items")

// outbox is the bbolt file and what it holds.
type outbox struct {
	db *bolt.DB
}

// outboxStats is what an outbox holds when it is opened.
type outboxStats struct {
	count   int64
	bytes   int64
	lastKey uint64
}

func openOutbox(dir string) (*outbox, outboxStats, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, outboxStats{}, fmt.Errorf("create data dir for the outbox: %w", err)
	}
	path := filepath.Join(dir, outboxFile)
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:        2 * time.Second,
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
	})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, outboxStats{}, fmt.Errorf("open outbox %s: locked by another runner process", path)
	}
	if err != nil {
		return nil, outboxStats{}, fmt.Errorf("open outbox %s: %w", path, err)
	}
	var st outboxStats
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketItems)
		if err != nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			if len(k) != 8 || len(v) < headerLen || v[0] != formatVersion {
				return fmt.Errorf("unknown record %x of %d bytes", k, len(v))
			}
			st.count++
			st.bytes += int64(len(v))
			st.lastKey = binary.BigEndian.Uint64(k)
			return nil
		})
	})
	if err != nil {
		_ = db.Close()
		return nil, outboxStats{}, fmt.Errorf("read outbox %s: %w", path, err)
	}
	return &outbox{db: db}, st, nil
}

func (o *outbox) close() error { return o.db.Close() }

// commit stores the items of a group in one transaction (one fsync), after
// removing the delivered keys up to and including deleteUpTo (0: none). It
// returns the key of the last item stored.
func (o *outbox) commit(groups [][]Item, deleteUpTo uint64, now time.Time) (uint64, error) {
	var last uint64
	err := o.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketItems)
		if deleteUpTo > 0 {
			c := b.Cursor()
			for k, _ := c.First(); k != nil && binary.BigEndian.Uint64(k) <= deleteUpTo; k, _ = c.First() {
				if err := c.Delete(); err != nil {
					return fmt.Errorf("delete delivered item: %w", err)
				}
			}
		}
		b.FillPercent = 1 // keys only grow: keep pages full
		var key [8]byte
		ts := uint64(now.UnixNano())
		for _, items := range groups {
			for _, it := range items {
				seq, err := b.NextSequence()
				if err != nil {
					return err
				}
				binary.BigEndian.PutUint64(key[:], seq)
				it.buf[0] = formatVersion
				binary.BigEndian.PutUint64(it.buf[1:headerLen], ts)
				if err := b.Put(key[:], it.buf); err != nil {
					return fmt.Errorf("store item: %w", err)
				}
				last = seq
			}
		}
		return nil
	})
	return last, err
}

// read calls fn for each stored item from key from on, in order, until fn
// returns false. The value is only valid during the call.
func (o *outbox) read(from uint64, fn func(key uint64, v []byte) bool) error {
	return o.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketItems).Cursor()
		var start [8]byte
		binary.BigEndian.PutUint64(start[:], from)
		for k, v := c.Seek(start[:]); k != nil; k, v = c.Next() {
			if !fn(binary.BigEndian.Uint64(k), v) {
				return nil
			}
		}
		return nil
	})
}
