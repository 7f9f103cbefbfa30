package reporter

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/claudette-dev/claudette-runner/modules/durable"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Why a log and not bbolt: the outbox is a FIFO (append at the tail, consume
// at the head). bbolt fsyncs twice per transaction and rewrites a leaf page
// with all its values whenever the leaf changes, so stored batches were
// written about three times; measured on the target machine it peaked near
// 32,000 events/s. The log writes each group commit once, with one
// fdatasync, and frees space by unlinking delivered segments.
const (
	outboxDir  = "outbox"
	cursorFile = "cursor"
)

// outbox is the durable log of items waiting for delivery.
type outbox struct {
	dir     string
	log     *zap.Logger
	segSize int64 // a segment is closed once it passes this size

	mu     sync.Mutex
	segs   []*segment
	cursor *os.File

	// The committer's own state.
	nextID   uint64
	buf      []byte
	rollNext bool // start a new segment with the next append (after a failed sync)
}

// syncSegment makes a commit durable (a variable so a test can make it fail
// as a failing disk does).
var syncSegment = fdatasync

// position is where the sender reads: a segment and an offset in it. A nil
// segment means the first segment, whenever there is one.
type position struct {
	seg *segment
	off int64
}

// outboxStats is what an outbox holds when it is opened.
type outboxStats struct {
	count int64    // items not delivered
	bytes int64    // their record bytes
	last  uint64   // id of the last item stored (0: none)
	next  uint64   // id of the first item not delivered
	start position // where that item is
}

// openOutbox opens (or creates) the log in dir, cuts off a torn tail and
// removes segments the cursor says were delivered.
func openOutbox(dir string, segSize int64, log *zap.Logger) (*outbox, outboxStats, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, outboxStats{}, fmt.Errorf("create outbox dir: %w", err)
	}
	o := &outbox{dir: dir, log: log, segSize: segSize}
	cur, err := os.OpenFile(filepath.Join(dir, cursorFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, outboxStats{}, fmt.Errorf("open outbox cursor: %w", err)
	}
	o.cursor = cur
	st, err := o.recover()
	if err != nil {
		_ = o.close()
		return nil, outboxStats{}, err
	}
	return o, st, nil
}

func (o *outbox) recover() (outboxStats, error) {
	var st outboxStats
	st.next = max(1, o.readCursor())
	entries, err := os.ReadDir(o.dir)
	if err != nil {
		return st, fmt.Errorf("read outbox dir: %w", err)
	}
	var firsts []uint64
	for _, e := range entries {
		if id, ok := segmentFirst(e.Name()); ok && e.Type().IsRegular() {
			firsts = append(firsts, id)
		}
	}
	slices.Sort(firsts)
	found := false
	for i, first := range firsts {
		seg, last, err := o.openSegment(first, i == len(firsts)-1, func(rec record, off int64) {
			if rec.id >= st.next {
				if !found {
					found, st.start = true, position{off: off}
				}
				st.count++
				st.bytes += rec.size
			}
		})
		if err != nil {
			return st, err
		}
		if found && st.start.seg == nil && seg != nil {
			st.start.seg = seg
		}
		if seg == nil || last < st.next { // empty, or delivered before the last stop
			if seg != nil {
				_ = seg.f.Close()
			}
			if err := os.Remove(segmentPath(o.dir, first)); err != nil {
				return st, fmt.Errorf("remove delivered outbox segment: %w", err)
			}
			continue
		}
		o.segs = append(o.segs, seg)
		st.last = last
	}
	if !found && len(o.segs) > 0 {
		tail := o.segs[len(o.segs)-1]
		st.start = position{seg: tail, off: tail.size.Load()}
	}
	if len(o.segs) > 0 && st.next < o.segs[0].first {
		st.next = o.segs[0].first
	}
	o.nextID = max(st.last+1, st.next)
	return st, nil
}

// openSegment opens a segment, checks every record (calling fn for each valid
// one) and cuts the file at the first one that is not whole and valid. It
// returns nil for an empty segment.
func (o *outbox) openSegment(first uint64, tail bool, fn func(rec record, off int64)) (*segment, uint64, error) {
	path := segmentPath(o.dir, first)
	f, err := os.OpenFile(path, os.O_RDWR, 0o600)
	if err != nil {
		return nil, 0, fmt.Errorf("open outbox segment: %w", err)
	}
	seg := &segment{first: first, path: path, f: f}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, 0, fmt.Errorf("stat outbox segment: %w", err)
	}
	seg.size.Store(fi.Size())
	var valid int64
	last := first - 1
	err = scanSegment(seg, func(rec record, off int64) error {
		if rec.id != last+1 {
			return fmt.Errorf("%w: id %d after %d", errDamaged, rec.id, last)
		}
		last, valid = rec.id, off+rec.size
		fn(rec, off)
		return nil
	})
	if err != nil && !errors.Is(err, errDamaged) && !errors.Is(err, io.ErrUnexpectedEOF) {
		_ = f.Close()
		return nil, 0, err
	}
	if valid < fi.Size() {
		fields := []zap.Field{zap.String("segment", path), zap.Int64("valid_bytes", valid),
			zap.Int64("dropped_bytes", fi.Size()-valid), zap.Uint64("last_id", last), zap.NamedError("cause", err)}
		if tail {
			o.log.Warn("outbox: cutting off an incomplete write at the end of the log (a crash during a commit; those sends had not returned)", fields...)
		} else {
			o.log.Error("outbox: segment damaged; dropping the rest of it", fields...)
		}
		if err := f.Truncate(valid); err != nil {
			_ = f.Close()
			return nil, 0, fmt.Errorf("cut damaged outbox segment: %w", err)
		}
		seg.size.Store(valid)
	}
	if valid == 0 {
		_ = f.Close()
		return nil, 0, nil
	}
	return seg, last, nil
}

// scanSegment calls fn for each whole, valid record of seg below its size.
func scanSegment(seg *segment, fn func(rec record, off int64) error) error {
	r := bufio.NewReaderSize(io.NewSectionReader(seg.f, 0, seg.size.Load()), 1<<20)
	var buf []byte
	var off int64
	for {
		hdr, err := r.Peek(recordHeader)
		if len(hdr) == 0 && err == io.EOF {
			return nil
		}
		if err != nil {
			return io.ErrUnexpectedEOF
		}
		l := int(binary.LittleEndian.Uint32(hdr[0:4]))
		if l == 0 || l > maxItemBytes {
			return fmt.Errorf("%w: length %d at offset %d", errDamaged, l, off)
		}
		buf = slices.Grow(buf[:0], recordHeader+l)[:recordHeader+l]
		if _, err := io.ReadFull(r, buf); err != nil {
			return io.ErrUnexpectedEOF
		}
		rec, _, err := parseRecord(buf)
		if err != nil {
			return fmt.Errorf("%w at offset %d", err, off)
		}
		if err := fn(rec, off); err != nil {
			return err
		}
		off += rec.size
	}
}

// appendItems writes the items of all requests as one commit: one write and
// one fdatasync. It returns the id of the last item. Committer only.
func (o *outbox) appendItems(reqs []*commitReq, now time.Time) (uint64, error) {
	ts := now.UnixNano()
	id := o.nextID
	buf := o.buf[:0]
	for _, r := range reqs {
		for _, it := range r.items {
			buf = appendRecord(buf, id, ts, it.buf)
			id++
		}
	}
	if cap(buf) > 16<<20 {
		o.buf = nil // do not keep the buffer of an outsized commit
	} else {
		o.buf = buf
	}
	if id == o.nextID {
		return id - 1, nil
	}
	seg, err := o.tailFor()
	if err != nil {
		return 0, err
	}
	size := seg.size.Load()
	if _, err := seg.f.WriteAt(buf, size); err != nil {
		_ = seg.f.Truncate(size)
		return 0, fmt.Errorf("write outbox segment: %w", err)
	}
	if err := syncSegment(seg.f); err != nil {
		// After a failed sync the kernel may have dropped the pages: never
		// write to this segment again.
		o.rollNext = true
		_ = seg.f.Truncate(size)
		return 0, fmt.Errorf("sync outbox segment: %w", err)
	}
	seg.size.Store(size + int64(len(buf)))
	o.nextID = id
	return id - 1, nil
}

// tailFor returns the segment to append to, starting a new one when the
// tail is full.
func (o *outbox) tailFor() (*segment, error) {
	o.mu.Lock()
	var tail *segment
	if n := len(o.segs); n > 0 {
		tail = o.segs[n-1]
	}
	o.mu.Unlock()
	if tail != nil && tail.size.Load() < o.segSize && !o.rollNext {
		return tail, nil
	}
	if tail != nil && tail.first == o.nextID {
		// The tail holds no record (its first commit failed and was cut
		// off): a new segment would have its name, and the sender, once past
		// it, would unlink the new one's file with it. Nothing durable is in
		// it to lose, and the failed pages were cut off, so write to it.
		o.rollNext = false
		return tail, nil
	}
	path := segmentPath(o.dir, o.nextID)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create outbox segment: %w", err)
	}
	if err := durable.SyncDir(o.dir); err != nil {
		_ = f.Close()
		return nil, err
	}
	seg := &segment{first: o.nextID, path: path, f: f}
	o.mu.Lock()
	o.segs = append(o.segs, seg)
	o.mu.Unlock()
	o.rollNext = false
	return seg, nil
}

// first is the oldest segment, nil when there is none.
func (o *outbox) first() *segment {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.segs) == 0 {
		return nil
	}
	return o.segs[0]
}

// after is the segment that follows s, nil when s is the tail.
func (o *outbox) after(s *segment) *segment {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i, seg := range o.segs {
		if seg == s && i+1 < len(o.segs) {
			return o.segs[i+1]
		}
	}
	return nil
}

// release records that every item before next is delivered, and removes the
// segments before pos, all delivered. Sender only. The cursor is synced
// before any segment goes, so that a power cut can neither bring back a
// cursor older than the oldest segment left nor leave a torn one past what
// was delivered: at worst the last batch is sent again.
func (o *outbox) release(pos position, next uint64) {
	var rec [12]byte
	binary.LittleEndian.PutUint64(rec[:8], next)
	binary.LittleEndian.PutUint32(rec[8:], crc32.Checksum(rec[:8], castagnoli))
	if _, err := o.cursor.WriteAt(rec[:], 0); err != nil {
		o.log.Warn("outbox: write cursor", zap.Error(err))
	} else if err := fdatasync(o.cursor); err != nil {
		o.log.Warn("outbox: sync cursor", zap.Error(err))
	}
	o.mu.Lock()
	var done []*segment
	for len(o.segs) > 1 && o.segs[0] != pos.seg {
		done = append(done, o.segs[0])
		o.segs = o.segs[1:]
	}
	o.mu.Unlock()
	for _, s := range done {
		_ = s.f.Close()
		if err := os.Remove(s.path); err != nil {
			o.log.Warn("outbox: remove delivered segment", zap.String("segment", s.path), zap.Error(err))
		}
	}
}

func (o *outbox) readCursor() uint64 {
	var rec [12]byte
	if n, _ := o.cursor.ReadAt(rec[:], 0); n != len(rec) {
		return 0
	}
	if crc32.Checksum(rec[:8], castagnoli) != binary.LittleEndian.Uint32(rec[8:]) {
		return 0 // torn: start from the oldest segment (duplicates, not loss)
	}
	return binary.LittleEndian.Uint64(rec[:8])
}

// close syncs the cursor, so that a clean restart sends nothing twice, and
// closes the files.
func (o *outbox) close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	var errs []error
	if o.cursor != nil {
		errs = append(errs, fdatasync(o.cursor), o.cursor.Close())
	}
	for _, s := range o.segs {
		errs = append(errs, s.f.Close())
	}
	o.segs = nil
	return errors.Join(errs...)
}
