package conversation

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/relay"
	bolt "go.etcd.io/bbolt"
)

// store keeps, in {dataDir}/conversations.db, each conversation's Claude
// session and every turn that has not finished, so that a restarted runner
// resumes sessions and loses no turn.
type store struct{ db *bolt.DB }

var (
	bucketSessions = []byte("sessions")
	bucketTurns    = []byte("turns")
)

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
	Turn        Turn         `json:"turn"`
	State       string       `json:"state"`
	Seq         int64        `json:"seq"`      // the last seq given to an item
	MaxSeq      int64        `json:"maxSeq"`   // the highest seq ever handed (or about to be handed) to the sink
	Lines       int64        `json:"lines"`    // stdout lines relayed (durable in the sink)
	LinesSeq    int64        `json:"linesSeq"` // the seq of the last of those lines (of the running state before any)
	ContainerID string       `json:"containerId,omitempty"`
	SessionID   string       `json:"sessionId,omitempty"`
	StartedAt   time.Time    `json:"startedAt"`
	RelayToken  string       `json:"relayToken,omitempty"` // the turn's model relay token (never the real credential), to re-open it after a restart
	Origin      string       `json:"origin,omitempty"`     // the workspace's recorded origin the git relay serves, to re-open it after a restart
	Usage       *relay.Usage `json:"usage,omitempty"`      // the relay's count so far (meter.go)
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
		for _, b := range [][]byte{bucketSessions, bucketTurns} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("init %s: %w", path, err)
	}
	return &store{db: db}, nil
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
	return s.db.Update(func(tx *bolt.Tx) error {
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

func (s *store) deleteTurn(messageID string) error {
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketTurns).Delete([]byte(messageID)) })
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
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put(key, data) })
}
