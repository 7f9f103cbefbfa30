package conversation

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"github.com/claudette-dev/claudette-runner/modules/durable"
	"os"
	"path/filepath"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/relay"
	"github.com/containerd/errdefs"
	bolt "go.etcd.io/bbolt"
)

// store keeps, in {dataDir}/conversations.db, each conversation's Claude
// session and every turn that has not finished, so that a restarted runner
// resumes sessions and loses no turn.
// store is the conversations' database; its writes are group-committed
// (durable.Group: many turns at once share an fdatasync).
type store struct {
	db     *bolt.DB
	writes *durable.Group
}

var (
	bucketSessions = []byte("sessions")
	bucketTurns    = []byte("turns")
	bucketStops    = []byte("stops")    // message id -> stopRecord: a stop someone was told about
	bucketAnswered = []byte("answered") // message id -> unix nanos: turns answered and forgotten
)

// answeredRetention is how long a forgotten turn's id is remembered, so that
// a message the intake hands over again after a crash is not run twice.
const answeredRetention = 7 * 24 * time.Hour

// sessionRecord is a conversation's Claude session.
type sessionRecord struct {
	SessionID string `json:"sessionId"`
	// Established: the CLI announced the session (system/init), so its transcript
	// exists and later turns --resume it. Until then the id is offered again with --session-id.
	Established bool `json:"established"`
	// Meter is the conversation's model use so far, for its budget (meter.go).
	Meter *conversationSpend `json:"meter,omitempty"`
}

// turnRecord is an unfinished turn: the message, and how far it got.
type turnRecord struct {
	Turn        Turn           `json:"turn"`
	State       string         `json:"state"`
	Seq         int64          `json:"seq"`      // the last seq given to an item
	MaxSeq      int64          `json:"maxSeq"`   // the highest seq ever handed (or about to be handed) to the sink
	Lines       int64          `json:"lines"`    // stdout lines relayed (durable in the sink)
	LinesSeq    int64          `json:"linesSeq"` // the seq of the last of those lines (of the running state before any)
	ContainerID string         `json:"containerId,omitempty"`
	SessionID   string         `json:"sessionId,omitempty"`
	StartedAt   time.Time      `json:"startedAt"`
	RelayToken  string         `json:"relayToken,omitempty"` // the turn's model relay token (never the real credential), to re-open it after a restart
	Origin      string         `json:"origin,omitempty"`     // the workspace's recorded origin the git relay serves, to re-open it after a restart
	Usage       *relay.Usage   `json:"usage,omitempty"`      // the relay's count so far (meter.go)
	Notices     []noticeRecord `json:"notices,omitempty"`    // runner events given seqs and maybe not sent yet (relay.go)
	StateSeq    int64          `json:"stateSeq,omitempty"`   // the seq reserved for State (sent again after a restart: no gap)
	// Answer is the turn's decided end, recorded before any of it is sent:
	// a restart sends the same answer again, never runs the turn again.
	Answer *answerRecord `json:"answer,omitempty"`
}

// stopRecord is a stop of a turn that was promised (a cancel answered, a
// workspace deleted): a restart applies it before the turn goes on.
type stopRecord struct {
	Cause  stopCause `json:"cause"`
	Reason string    `json:"reason"`
}

func openStore(dataDir string) (*store, error) {
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return nil, err
	}
	path := filepath.Join(dataDir, "conversations.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketSessions, bucketTurns, bucketStops, bucketAnswered} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return pruneAnswered(tx.Bucket(bucketAnswered), time.Now())
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("init %s: %w", path, err)
	}
	return &store{db: db, writes: durable.NewGroup(db)}, nil
}

func (s *store) close() error { return s.db.Close() }

func sessionKey(workspaceID, conversationID string) []byte {
	return []byte(workspaceID + "/" + conversationID)
}

func (s *store) session(workspaceID, conversationID string) (sessionRecord, bool, error) {
	var rec sessionRecord
	found := false
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketSessions).Get(sessionKey(workspaceID, conversationID))
		if v == nil {
			return nil
		}
		found = true
		return json.Unmarshal(v, &rec)
	})
	return rec, found, err
}

func (s *store) putSession(workspaceID, conversationID string, rec sessionRecord) error {
	return s.put(bucketSessions, sessionKey(workspaceID, conversationID), rec)
}

// deleteSessions forgets every conversation of a workspace.
func (s *store) deleteSessions(workspaceID string) error {
	prefix := []byte(workspaceID + "/")
	return s.update(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketSessions).Cursor()
		for k, _ := c.Seek(prefix); k != nil && len(k) >= len(prefix) && string(k[:len(prefix)]) == string(prefix); k, _ = c.Next() {
			if err := c.Delete(); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *store) putTurn(rec *turnRecord) error {
	return s.put(bucketTurns, []byte(rec.Turn.MessageID), rec)
}

// forgetTurn is a turn's last persistence point: its record and stop go, and
// its id is remembered as answered, in one transaction.
func (s *store) forgetTurn(messageID string) error {
	key := []byte(messageID)
	return s.update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketTurns).Delete(key); err != nil {
			return err
		}
		if err := tx.Bucket(bucketStops).Delete(key); err != nil {
			return err
		}
		return tx.Bucket(bucketAnswered).Put(key, binary.BigEndian.AppendUint64(nil, uint64(time.Now().UnixNano())))
	})
}

// answered reports whether a turn of this message id was answered and forgotten.
func (s *store) answered(messageID string) (bool, error) {
	found := false
	err := s.db.View(func(tx *bolt.Tx) error {
		found = tx.Bucket(bucketAnswered).Get([]byte(messageID)) != nil
		return nil
	})
	return found, err
}

func pruneAnswered(b *bolt.Bucket, now time.Time) error {
	var drop [][]byte
	err := b.ForEach(func(k, v []byte) error {
		if len(v) != 8 || now.Sub(time.Unix(0, int64(binary.BigEndian.Uint64(v)))) > answeredRetention {
			drop = append(drop, append([]byte(nil), k...))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range drop {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// putStop records a promised stop of a turn.
func (s *store) putStop(messageID string, rec stopRecord) error {
	return s.put(bucketStops, []byte(messageID), rec)
}

// forgetStop drops the stop of a turn that is no more.
func (s *store) forgetStop(messageID string) error {
	return s.update(func(tx *bolt.Tx) error { return tx.Bucket(bucketStops).Delete([]byte(messageID)) })
}

// stops returns every recorded stop by message id.
func (s *store) stops() (map[string]stopRecord, error) {
	out := map[string]stopRecord{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketStops).ForEach(func(k, v []byte) error {
			var rec stopRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return err
			}
			out[string(k)] = rec
			return nil
		})
	})
	return out, err
}

// turns returns every unfinished turn, oldest first.
func (s *store) turns() ([]*turnRecord, error) {
	var out []*turnRecord
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTurns).ForEach(func(_, v []byte) error {
			var rec turnRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return err
			}
			out = append(out, &rec)
			return nil
		})
	})
	sortByArrival(out)
	return out, err
}

func (s *store) put(bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put(key, data) })
}

// update runs a write transaction. Its failure is the file's (bbolt does
// not always keep the errno: "mmap allocate error: no space left on
// device"), classed unavailable: the same write may succeed once the data
// dir can be written again (durable.go retries it).
func (s *store) update(fn func(tx *bolt.Tx) error) error {
	if err := s.writes.Update(fn); err != nil {
		return fmt.Errorf("%w: write %s: %w", errdefs.ErrUnavailable, s.db.Path(), err)
	}
	return nil
}
