package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// store locates session transcripts like the CLI:
// $CLAUDE_CONFIG_DIR/projects/<cwd with non-alphanumerics as '-'>/<id>.jsonl,
// with $HOME/.claude when CLAUDE_CONFIG_DIR is unset.
type store struct {
	configDir string
	cwd       string
}

func newStore(cwd string) *store {
	dir := os.Getenv("CLAUDE_CONFIG_DIR")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil || home == "" {
			home = "/"
		}
		dir = filepath.Join(home, ".claude")
	}
	return &store{configDir: dir, cwd: cwd}
}

var nonAlnum = regexp.MustCompile(`[^A-Za-z0-9]`)

func (s *store) projectDir() string {
	return filepath.Join(s.configDir, "projects", nonAlnum.ReplaceAllString(s.cwd, "-"))
}

var safeID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// find returns the transcript of session id: in this cwd's project first,
// then in any project (a resume from another cwd still finds it).
func (s *store) find(id string) (string, bool) {
	if !safeID.MatchString(id) {
		return "", false
	}
	p := filepath.Join(s.projectDir(), id+".jsonl")
	if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
		return p, true
	}
	matches, _ := filepath.Glob(filepath.Join(s.configDir, "projects", "*", id+".jsonl"))
	if len(matches) > 0 {
		return matches[0], true
	}
	return "", false
}

// latest returns the most recently written session of this cwd (--continue).
func (s *store) latest() (id, path string, ok bool) {
	entries, err := os.ReadDir(s.projectDir())
	if err != nil {
		return "", "", false
	}
	var newest int64
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".jsonl") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		if t := info.ModTime().UnixNano(); !ok || t > newest {
			newest, ok = t, true
			id, path = strings.TrimSuffix(name, ".jsonl"), filepath.Join(s.projectDir(), name)
		}
	}
	return id, path, ok
}

// session is the conversation a turn belongs to.
type session struct {
	id      string
	file    string   // transcript; "" with --no-session-persistence
	prompts []string // user prompts of earlier turns, oldest first
	parent  string   // uuid of the last transcript entry
}

// loadPrompts reads the user prompts (string-content user entries) of a transcript.
func loadPrompts(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var prompts []string
	r := bufio.NewReaderSize(f, 1<<20)
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 {
			var e struct {
				Type    string `json:"type"`
				Message struct {
					Content json.RawMessage `json:"content"`
				} `json:"message"`
			}
			if json.Unmarshal(line, &e) == nil && e.Type == "user" {
				var s string
				if json.Unmarshal(e.Message.Content, &s) == nil {
					prompts = append(prompts, s)
				}
			}
		}
		if errors.Is(err, io.EOF) {
			return prompts, nil
		}
		if err != nil {
			return prompts, err
		}
	}
}

// append writes entries to the transcript. Like the CLI, a transcript that
// cannot be written does not fail the turn.
func (s *session) append(entries ...obj) {
	if s.file == "" {
		return
	}
	if err := os.MkdirAll(filepath.Dir(s.file), 0o700); err != nil {
		return
	}
	f, err := os.OpenFile(s.file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	for _, e := range entries {
		b, err := json.Marshal(e)
		if err != nil {
			continue
		}
		w.Write(b)
		w.WriteByte('\n')
	}
	w.Flush()
}

// copyTranscript copies a transcript for --fork-session.
func copyTranscript(from, to string) error {
	src, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
		return err
	}
	return os.WriteFile(to, src, 0o600)
}

// openSession picks the session for this process from --resume,
// --continue, --session-id or a new id. It returns a usage error message for
// the CLI's refusals; an unknown resume id is reported by the caller.
func (a *agent) openSession() (missing string, err error) {
	o := a.opts
	s := &session{}
	var from string
	switch {
	case o.resumeSet:
		p, ok := a.store.find(o.resume)
		if !ok {
			return o.resume, nil
		}
		s.id, from = o.resume, p
	case o.continueLast:
		id, p, ok := a.store.latest()
		if !ok {
			return "", fmt.Errorf("No conversation found to continue")
		}
		s.id, from = id, p
	case o.sessionID != "":
		if _, ok := a.store.find(o.sessionID); ok {
			return "", fmt.Errorf("Error: Session ID %s is already in use.", o.sessionID)
		}
		s.id = o.sessionID
	default:
		s.id = newUUID()
	}
	if from != "" {
		s.prompts, _ = loadPrompts(from)
	}
	if from != "" && o.forkSession {
		s.id = o.sessionID
		if s.id == "" {
			s.id = newUUID()
		}
	}
	switch {
	case o.noPersistence:
	case from != "" && o.forkSession:
		s.file = filepath.Join(a.store.projectDir(), s.id+".jsonl")
		_ = copyTranscript(from, s.file)
	case from != "":
		s.file = from
	default:
		s.file = filepath.Join(a.store.projectDir(), s.id+".jsonl")
	}
	a.sess = s
	return "", nil
}
