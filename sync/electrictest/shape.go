package electrictest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// definition is everything a handle is bound to (PROTOCOL 1.2 "Shape identity").
type definition struct {
	where   string
	params  map[string]string
	columns []string // nil: all
	replica string   // default | full
	log     string   // full | changes_only
}

func (d definition) key() string {
	ps := make([]string, 0, len(d.params))
	for k, v := range d.params {
		ps = append(ps, k+"="+v)
	}
	sort.Strings(ps)
	return strings.Join([]string{d.where, strings.Join(ps, "&"), strings.Join(d.columns, ","), d.replica, d.log}, "\x00")
}

// predicate is the where clause the fake understands: empty, or `<column> = $n`
// or `<column> = '<literal>'`.
type predicate struct {
	column string
	value  string
	all    bool
}

var whereRule = regexp.MustCompile(`^\s*"?([A-Za-z_][A-Za-z0-9_]*)"?\s*=\s*(?:\$([0-9]+)|'((?:[^']|'')*)')\s*$`)

func parsePredicate(t tableSchema, where string, params map[string]string) (predicate, string) {
	if strings.TrimSpace(where) == "" {
		return predicate{all: true}, ""
	}
	m := whereRule.FindStringSubmatch(where)
	if m == nil {
		return predicate{}, "the fake server only understands `<column> = $n` or `<column> = '<text>'`"
	}
	if !t.has(m[1]) {
		return predicate{}, fmt.Sprintf("unknown reference %s", m[1])
	}
	if m[2] == "" {
		return predicate{column: m[1], value: strings.ReplaceAll(m[3], "''", "'")}, ""
	}
	v, ok := params[m[2]]
	if !ok {
		return predicate{}, fmt.Sprintf("parameter $%s has no value in params", m[2])
	}
	return predicate{column: m[1], value: v}, ""
}

func (p predicate) match(row map[string]any) bool {
	if p.all {
		return true
	}
	v, ok := encodeValue(row[p.column], false)
	return ok && v == p.value
}

type entry struct {
	off logOffset
	msg json.RawMessage
}

// shape is one shape log: the snapshot taken when it was created (virtual
// offsets 0_0, 0_1, ...) followed by the changes since (`<lsn>_<op>`).
type shape struct {
	handle   string
	def      definition
	pred     predicate
	relation []string
	key      func(id string) string
	snapshot []json.RawMessage
	changes  []entry
	deleted  bool
}

// getOrCreate returns the current shape for a definition, creating it (with a
// snapshot of the table now) when there is none. Call with s.mu held.
func (s *Server) getOrCreate(def definition, pred predicate) *shape {
	if sh, ok := s.shapes[def.key()]; ok {
		return sh
	}
	s.handleNo++
	sh := &shape{
		handle:   fmt.Sprintf("%d-%d", 3833820+s.handleNo, time.Now().UnixMicro()),
		def:      def,
		pred:     pred,
		relation: []string{s.schema.schema, s.schema.name},
		key:      s.schema.key,
	}
	if def.log != "changes_only" {
		for _, id := range s.order {
			r := s.rows[id]
			if pred.match(r) {
				sh.snapshot = append(sh.snapshot, sh.snapshotRow(id, s.project(sh, r, false)))
			}
		}
	}
	s.shapes[def.key()] = sh
	s.handles[sh.handle] = sh
	return sh
}

// rotate drops every current shape, as a truncate, a schema change or a
// deleted shape does. With successors, a new shape per definition exists at
// once, so 409s can name its handle.
func (s *Server) rotate(successors bool) {
	old := s.shapes
	s.shapes = map[string]*shape{}
	for _, sh := range old {
		sh.deleted = true
		if successors {
			s.getOrCreate(sh.def, sh.pred)
		}
	}
	s.wake()
}

// Rotate replaces every shape with a new handle, as Electric does after a
// truncate or a schema change: requests with an old handle, including live
// requests being held, get 409 must-refetch naming the new handle.
func (s *Server) Rotate() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rotate(true)
}

// RotateWithoutHandle is Rotate where the 409 carries no electric-handle
// (the server does not know the successor yet).
func (s *Server) RotateWithoutHandle() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rotate(false)
}

type changeHeaders struct {
	Operation  string   `json:"operation"`
	Relation   []string `json:"relation"`
	Txids      []int64  `json:"txids,omitempty"`
	LSN        string   `json:"lsn,omitempty"`
	OpPosition *int     `json:"op_position,omitempty"`
	Last       bool     `json:"last,omitempty"`
}

type changeMessage struct {
	Key      string             `json:"key"`
	Value    map[string]*string `json:"value"`
	OldValue map[string]*string `json:"old_value,omitempty"`
	Headers  changeHeaders      `json:"headers"`
}

func (sh *shape) snapshotRow(id string, value map[string]*string) json.RawMessage {
	b, _ := json.Marshal(changeMessage{Key: sh.key(id), Value: value,
		Headers: changeHeaders{Operation: "insert", Relation: sh.relation}})
	return b
}

func (sh *shape) change(op, id string, value, oldValue map[string]*string, lsn, txid int64) json.RawMessage {
	pos := 0
	b, _ := json.Marshal(changeMessage{Key: sh.key(id), Value: value, OldValue: oldValue,
		Headers: changeHeaders{Operation: op, Relation: sh.relation, Txids: []int64{txid},
			LSN: strconv.FormatInt(lsn, 10), OpPosition: &pos, Last: true}})
	return b
}

// end is the offset of the last entry of the log.
func (sh *shape) end() logOffset {
	if n := len(sh.changes); n > 0 {
		return sh.changes[n-1].off
	}
	return snapshotEnd
}

// page is one response's worth of a shape log.
type page struct {
	msgs        []json.RawMessage
	next        logOffset
	snapshotEnd bool
	upToDate    bool
	outOfBounds bool
}

// read returns the entries after offset o, at most limit of them. A response
// never spans the end of the snapshot, and only a response that reaches the
// end of the log (outside the snapshot) is up-to-date.
func (sh *shape) read(o logOffset, limit int) page {
	if o == beforeAll || (o.tx == 0 && o.op != snapshotEnd.op) {
		start := 0
		if o != beforeAll {
			if o.op >= int64(len(sh.snapshot)) {
				return page{outOfBounds: true}
			}
			start = int(o.op) + 1
		}
		stop := min(start+limit, len(sh.snapshot))
		p := page{msgs: sh.snapshot[start:stop:stop], next: logOffset{tx: 0, op: int64(stop - 1)}}
		if stop == len(sh.snapshot) {
			p.snapshotEnd, p.next = true, snapshotEnd
		}
		return p
	}
	if sh.end().less(o) {
		return page{outOfBounds: true}
	}
	i := sort.Search(len(sh.changes), func(i int) bool { return o.less(sh.changes[i].off) })
	stop := min(i+limit, len(sh.changes))
	p := page{next: o, upToDate: stop == len(sh.changes)}
	for _, e := range sh.changes[i:stop] {
		p.msgs = append(p.msgs, e.msg)
		p.next = e.off
	}
	return p
}

// cursorEpoch is where Electric counts live cursors from.
var cursorEpoch = time.Date(2024, 10, 9, 0, 0, 0, 0, time.UTC)

// nextCursor is the electric-cursor for a live response: seconds since the
// epoch rounded up to the hold, and always above the cursor the client sent.
func nextCursor(hold time.Duration, sent string) string {
	step := max(int64(1), int64((hold+time.Second-1)/time.Second))
	secs := int64(time.Since(cursorEpoch) / time.Second)
	c := (secs + step - 1) / step * step
	if prev, err := strconv.ParseInt(sent, 10, 64); err == nil && c <= prev {
		c = prev + 1 + rand.Int64N(3600)
	}
	return strconv.FormatInt(c, 10)
}
