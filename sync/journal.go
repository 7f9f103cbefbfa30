package sync

import (
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/claudette-dev/claudette-runner/modules/durable"
	"os"
	"path/filepath"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// journalFile is the intake's durable state under the data dir: the shape
// position and the journal of message ids already acted on. bbolt gives one
// file, crash-safe transactions (position and ids commit together) and a
// file lock that stops two runners from sharing a data dir.
const journalFile = "intake.db"

var (
	bucketMeta   = []byte("meta")
	bucketIDs    = []byte("ids")     // message id -> entry (8 bytes unix nanos + 1 byte verdict)
	bucketByTime = []byte("by_time") // 8 bytes unix nanos + message id -> nothing; the retention order
	keyShape     = []byte("shape")
	keyHandle    = []byte("handle")
	keyOffset    = []byte("offset")
	keyCount     = []byte("count")
)

// verdict is what the intake did with a journaled id.
type verdict byte

const (
	verdictAccepted verdict = 'a' // dispatched to the handler
	verdictRejected verdict = 'r' // answered with an error, or dropped
)

// journal is the bbolt store. Retention keeps at most maxEntries ids and
// none older than maxAge.
type journal struct {
	db         *bolt.DB
	writes     *durable.Group // the per-message writes (pending.go), group-committed
	maxAge     time.Duration
	maxEntries int
}

func openJournal(dir string, maxAge time.Duration, maxEntries int) (*journal, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir for the intake journal: %w", err)
	}
	path := filepath.Join(dir, journalFile)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("open intake journal %s: locked by another process (is another runner using this data dir?)", path)
	}
	if err != nil {
		return nil, fmt.Errorf("open intake journal %s: %w", path, err)
	}
	j := &journal{db: db, writes: durable.NewGroup(db), maxAge: maxAge, maxEntries: maxEntries}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketMeta, bucketIDs, bucketByTime, bucketPending} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return j.prune(tx, time.Now())
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("prepare intake journal %s: %w", path, err)
	}
	return j, nil
}

func (j *journal) close() error { return j.db.Close() }

// position returns the saved position when it was saved for this shape.
func (j *journal) position(shape string) (position, bool, error) {
	var p position
	var ok bool
	err := j.db.View(func(tx *bolt.Tx) error {
		m := tx.Bucket(bucketMeta)
		if string(m.Get(keyShape)) != shape {
			return nil
		}
		p = position{Handle: string(m.Get(keyHandle)), Offset: string(m.Get(keyOffset))}
		ok = p.Offset != ""
		return nil
	})
	if err != nil {
		return position{}, false, fmt.Errorf("read intake position: %w", err)
	}
	return p, ok, nil
}

// record is one id of a batch, with the verdict the intake would give it.
type record struct {
	id      string
	verdict verdict
	pending *pendingEntry // kept until settled, when the id is new
}

// commit journals the batch's new ids and saves the position, in one
// transaction. It returns which records were new (not journaled before) and
// the verdicts already journaled for the ids in lookup.
func (j *journal) commit(recs []record, lookup []string, pos position, shape string, now time.Time) (fresh []bool, known map[string]verdict, err error) {
	fresh = make([]bool, len(recs))
	known = map[string]verdict{}
	err = j.db.Update(func(tx *bolt.Tx) error {
		ids, byTime, meta := tx.Bucket(bucketIDs), tx.Bucket(bucketByTime), tx.Bucket(bucketMeta)
		for _, id := range lookup {
			if v := ids.Get([]byte(id)); len(v) == 9 {
				known[id] = verdict(v[8])
			}
		}
		count := readCount(meta)
		stamp := binary.BigEndian.AppendUint64(nil, uint64(now.UnixNano()))
		for i, r := range recs {
			if ids.Get([]byte(r.id)) != nil {
				continue
			}
			if err := ids.Put([]byte(r.id), append(append([]byte(nil), stamp...), byte(r.verdict))); err != nil {
				return err
			}
			if err := byTime.Put(append(append([]byte(nil), stamp...), r.id...), nil); err != nil {
				return err
			}
			if r.pending != nil {
				if err := putPending(tx, r.id, r.pending, now.UnixNano(), i); err != nil {
					return err
				}
			}
			fresh[i] = true
			count++
		}
		if err := meta.Put(keyCount, []byte(strconv.Itoa(count))); err != nil {
			return err
		}
		if err := meta.Put(keyShape, []byte(shape)); err != nil {
			return err
		}
		if err := meta.Put(keyHandle, []byte(pos.Handle)); err != nil {
			return err
		}
		if err := meta.Put(keyOffset, []byte(pos.Offset)); err != nil {
			return err
		}
		return j.prune(tx, now)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("commit intake journal: %w", err)
	}
	return fresh, known, nil
}

// prune drops the oldest ids while there are too many or they are too old.
func (j *journal) prune(tx *bolt.Tx, now time.Time) error {
	ids, byTime, meta := tx.Bucket(bucketIDs), tx.Bucket(bucketByTime), tx.Bucket(bucketMeta)
	count := readCount(meta)
	var drop [][]byte
	c := byTime.Cursor()
	for k, _ := c.First(); len(k) >= 8; k, _ = c.Next() {
		at := time.Unix(0, int64(binary.BigEndian.Uint64(k[:8])))
		if count-len(drop) <= j.maxEntries && now.Sub(at) <= j.maxAge {
			break
		}
		drop = append(drop, append([]byte(nil), k...))
	}
	for _, k := range drop {
		if err := byTime.Delete(k); err != nil {
			return err
		}
		if err := ids.Delete(k[8:]); err != nil {
			return err
		}
	}
	if len(drop) == 0 {
		return nil
	}
	return meta.Put(keyCount, []byte(strconv.Itoa(count-len(drop))))
}

func readCount(meta *bolt.Bucket) int {
	n, _ := strconv.Atoi(string(meta.Get(keyCount)))
	return n
}
