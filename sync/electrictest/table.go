package electrictest

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Column is one column of the fake table. Type is the Postgres type name as
// electric-schema reports it (text, jsonb, timestamptz, int8, bool, ...).
type Column struct {
	Name string
	Type string
	PK   bool
}

type tableSchema struct {
	schema, name string
	pk           string
	columns      []Column
}

func newSchema(name string, columns []Column) tableSchema {
	t := tableSchema{schema: "public", name: name, columns: columns}
	if sch, tbl, ok := strings.Cut(name, "."); ok {
		t.schema, t.name = sch, tbl
	}
	for _, c := range columns {
		if c.PK {
			t.pk = c.Name
			break
		}
	}
	return t
}

// runnerMessages is the table of CONTRACT section 2.
func runnerMessages() tableSchema {
	return newSchema("runner_messages", []Column{
		{Name: "id", Type: "text", PK: true},
		{Name: "runner_id", Type: "text"},
		{Name: "workspace_id", Type: "text"},
		{Name: "payload", Type: "jsonb"},
		{Name: "created_at", Type: "timestamptz"},
	})
}

func (t tableSchema) has(col string) bool { return t.typeOf(col) != "" }

func (t tableSchema) typeOf(col string) string {
	for _, c := range t.columns {
		if c.Name == col {
			return c.Type
		}
	}
	return ""
}

// schemaHeader is the electric-schema value for the selected columns.
func (t tableSchema) schemaHeader(cols []string) string {
	out := map[string]any{}
	pk := 0
	for _, c := range t.columns {
		if cols != nil && !slices.Contains(cols, c.Name) {
			continue
		}
		m := map[string]any{"type": c.Type}
		if c.PK {
			m["pk_index"] = pk
			m["not_null"] = true
			pk++
		}
		out[c.Name] = m
	}
	b, _ := json.Marshal(out)
	return string(b)
}

// Insert adds a row (column -> value) in one transaction. Values are encoded
// as Electric does: strings as is, []byte and json.RawMessage as JSON text
// (jsonb), bools as true/false in a snapshot and t/f in live changes,
// numbers in decimal, time.Time in Postgres' UTC text form, maps and slices
// as JSON text, nil as null. A duplicate primary key fails the test.
func (s *Server) Insert(row map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := row[s.schema.pk].(string)
	if !ok || id == "" {
		s.tb.Errorf("electrictest: Insert needs a non-empty string %q, got %v", s.schema.pk, row[s.schema.pk])
		return
	}
	if _, dup := s.rows[id]; dup {
		s.tb.Errorf("electrictest: Insert: duplicate key %q", id)
		return
	}
	r := make(map[string]any, len(row))
	for k, v := range row {
		r[k] = v
	}
	s.rows[id] = r
	s.order = append(s.order, id)
	s.commit(func(sh *shape, lsn, txid int64) []json.RawMessage {
		if !sh.pred.match(r) {
			return nil
		}
		return []json.RawMessage{sh.change("insert", id, s.live(sh, r), nil, lsn, txid)}
	})
}

// InsertMessage inserts a runner_messages row; payload is the jsonb text
// (sent in Postgres' jsonb form when it is JSON, verbatim when it is not).
func (s *Server) InsertMessage(id, runnerID, workspaceID string, payload []byte) {
	s.Insert(map[string]any{
		"id": id, "runner_id": runnerID, "workspace_id": workspaceID,
		"payload": json.RawMessage(payload), "created_at": time.Now().UTC(),
	})
}

// Update changes some columns of a row in one transaction. A row moving into
// or out of a shape's where clause reaches that shape as an insert or a delete.
func (s *Server) Update(id string, changes map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.rows[id]
	if !ok {
		s.tb.Errorf("electrictest: Update: no row %q", id)
		return
	}
	if v, ok := changes[s.schema.pk]; ok && v != id {
		s.tb.Errorf("electrictest: Update cannot change the primary key of %q", id)
		return
	}
	r := make(map[string]any, len(old))
	for k, v := range old {
		r[k] = v
	}
	for k, v := range changes {
		r[k] = v
	}
	s.rows[id] = r
	s.commit(func(sh *shape, lsn, txid int64) []json.RawMessage {
		was, is := sh.pred.match(old), sh.pred.match(r)
		switch {
		case was && is:
			return []json.RawMessage{s.updateMessage(sh, id, old, r, lsn, txid)}
		case is:
			return []json.RawMessage{sh.change("insert", id, s.live(sh, r), nil, lsn, txid)}
		case was:
			return []json.RawMessage{sh.change("delete", id, s.deleted(sh, id, old), nil, lsn, txid)}
		}
		return nil
	})
}

// Delete removes a row in one transaction.
func (s *Server) Delete(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.rows[id]
	if !ok {
		s.tb.Errorf("electrictest: Delete: no row %q", id)
		return
	}
	delete(s.rows, id)
	for i, k := range s.order {
		if k == id {
			s.order = append(s.order[:i:i], s.order[i+1:]...)
			break
		}
	}
	s.commit(func(sh *shape, lsn, txid int64) []json.RawMessage {
		if !sh.pred.match(old) {
			return nil
		}
		return []json.RawMessage{sh.change("delete", id, s.deleted(sh, id, old), nil, lsn, txid)}
	})
}

// AppendRaw appends one raw message, as is, to the log of every current shape,
// in its own transaction: a malformed message no Postgres row would produce.
func (s *Server) AppendRaw(msg json.RawMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.commit(func(*shape, int64, int64) []json.RawMessage { return []json.RawMessage{msg} })
}

// commit runs one transaction: a new LSN, the messages per current shape, a wake-up.
func (s *Server) commit(msgs func(sh *shape, lsn, txid int64) []json.RawMessage) {
	s.lsn += 8
	s.txid++
	for _, sh := range s.shapes {
		for i, m := range msgs(sh, s.lsn, s.txid) {
			sh.changes = append(sh.changes, entry{off: logOffset{tx: s.lsn, op: int64(i)}, msg: m})
		}
	}
	s.wake()
}

func (s *Server) updateMessage(sh *shape, id string, old, r map[string]any, lsn, txid int64) json.RawMessage {
	changed := []string{}
	for _, c := range s.columnsOf(sh, r) {
		if c != s.schema.pk && encode(old[c], true) != encode(r[c], true) {
			changed = append(changed, c)
		}
	}
	if sh.def.replica == "full" {
		oldValue := map[string]*string{}
		for _, c := range changed {
			oldValue[c] = s.cell(c, old[c], true)
		}
		return sh.change("update", id, s.live(sh, r), oldValue, lsn, txid)
	}
	value := map[string]*string{s.schema.pk: encodePtr(id, true)}
	for _, c := range changed {
		value[c] = s.cell(c, r[c], true)
	}
	return sh.change("update", id, value, nil, lsn, txid)
}

// live encodes a whole row as a live change carries it.
func (s *Server) live(sh *shape, r map[string]any) map[string]*string {
	return s.project(sh, r, true)
}

// deleted is a delete's value: the PK only, or the whole row with replica=full.
func (s *Server) deleted(sh *shape, id string, old map[string]any) map[string]*string {
	if sh.def.replica == "full" {
		return s.project(sh, old, true)
	}
	return map[string]*string{s.schema.pk: encodePtr(id, true)}
}

func (s *Server) project(sh *shape, r map[string]any, live bool) map[string]*string {
	out := map[string]*string{}
	for _, c := range s.columnsOf(sh, r) {
		out[c] = s.cell(c, r[c], live)
	}
	return out
}

// cell encodes one column value; jsonb columns get Postgres' jsonb text form.
func (s *Server) cell(col string, v any, live bool) *string {
	p := encodePtr(v, live)
	if p != nil && s.schema.typeOf(col) == "jsonb" {
		if norm, ok := jsonbText(*p); ok {
			return &norm
		}
	}
	return p
}

// columnsOf lists the columns a shape carries: its `columns` param, or every
// column of the table plus any extra key the test put in the row.
func (s *Server) columnsOf(sh *shape, r map[string]any) []string {
	if sh.def.columns != nil {
		return sh.def.columns
	}
	cols := make([]string, 0, len(s.schema.columns)+len(r))
	for _, c := range s.schema.columns {
		cols = append(cols, c.Name)
	}
	extra := []string{}
	for k := range r {
		if !s.schema.has(k) {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	return append(cols, extra...)
}

// key is the Electric row key: "schema"."table"/"pk", with / in the value doubled.
func (t tableSchema) key(id string) string {
	return fmt.Sprintf("%q.%q/%q", t.schema, t.name, strings.ReplaceAll(id, "/", "//"))
}

func encodePtr(v any, live bool) *string {
	s, ok := encodeValue(v, live)
	if !ok {
		return nil
	}
	return &s
}

// encode is encodeValue with null as a distinct marker, for comparisons.
func encode(v any, live bool) string {
	s, ok := encodeValue(v, live)
	if !ok {
		return "\x00null"
	}
	return s
}

// encodeValue is the Postgres text output Electric sends; false means null.
func encodeValue(v any, live bool) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		return x, true
	case []byte:
		return string(x), true
	case json.RawMessage:
		return string(x), true
	case bool:
		switch {
		case live && x:
			return "t", true
		case live:
			return "f", true
		}
		return strconv.FormatBool(x), true
	case int:
		return strconv.Itoa(x), true
	case int32:
		return strconv.FormatInt(int64(x), 10), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return strings.ToLower(strconv.FormatFloat(x, 'g', -1, 64)), true
		}
		return strconv.FormatFloat(x, 'g', -1, 64), true
	case time.Time:
		return x.UTC().Format("2006-01-02 15:04:05.999999") + "+00", true
	case fmt.Stringer:
		return x.String(), true
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v), true
	}
	return string(b), true
}
