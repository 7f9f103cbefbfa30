package reporter

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
)

// The outbox is a log of segment files, {dataDir}/outbox/<first id>.seg,
// each a sequence of records:
//
//	bytes 0-3    payload length L, little-endian
//	bytes 4-7    CRC-32C of bytes 8 .. 24+L
//	bytes 8-15   item id, little-endian; ids count from 1 without gaps
//	bytes 16-23  commit time, Unix nanoseconds (delivery latency)
//	bytes 24-    the JSON-RPC object, exactly as it is sent
//
// A record is valid only whole and with its checksum: a torn write at the
// tail after a crash is cut off when the outbox is opened.
const (
	recordHeader = 24
	maxItemBytes = 1 << 30
	segmentExt   = ".seg"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var errDamaged = errors.New("damaged record")

// segment is one file of the log.
type segment struct {
	first uint64 // id of its first record
	path  string
	f     *os.File
	size  atomic.Int64 // bytes durably written; readers stay below it
}

func segmentPath(dir string, first uint64) string {
	return filepath.Join(dir, fmt.Sprintf("%020d%s", first, segmentExt))
}

// segmentFirst reads the first id from a segment's file name.
func segmentFirst(name string) (uint64, bool) {
	base, ok := strings.CutSuffix(name, segmentExt)
	if !ok || len(base) != 20 {
		return 0, false
	}
	id, err := strconv.ParseUint(base, 10, 64)
	return id, err == nil && id > 0
}

// appendRecord appends one record to buf.
func appendRecord(buf []byte, id uint64, ts int64, payload []byte) []byte {
	start := len(buf)
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(payload)))
	buf = append(buf, 0, 0, 0, 0)
	buf = binary.LittleEndian.AppendUint64(buf, id)
	buf = binary.LittleEndian.AppendUint64(buf, uint64(ts))
	buf = append(buf, payload...)
	binary.LittleEndian.PutUint32(buf[start+4:], crc32.Checksum(buf[start+8:], castagnoli))
	return buf
}

// record is one parsed record; payload points into the buffer it was read from.
type record struct {
	id      uint64
	ts      int64
	payload []byte
	size    int64 // header and payload
}

// parseRecord reads the record at the start of b. When b holds only part of
// it, need is the number of bytes the whole record takes (at least the header).
func parseRecord(b []byte) (rec record, need int, err error) {
	if len(b) < recordHeader {
		return rec, recordHeader, nil
	}
	l := binary.LittleEndian.Uint32(b[0:4])
	if l == 0 || l > maxItemBytes {
		return rec, 0, fmt.Errorf("%w: length %d", errDamaged, l)
	}
	total := recordHeader + int(l)
	if len(b) < total {
		return rec, total, nil
	}
	if crc32.Checksum(b[8:total], castagnoli) != binary.LittleEndian.Uint32(b[4:8]) {
		return rec, 0, fmt.Errorf("%w: checksum mismatch", errDamaged)
	}
	return record{
		id:      binary.LittleEndian.Uint64(b[8:16]),
		ts:      int64(binary.LittleEndian.Uint64(b[16:24])),
		payload: b[recordHeader:total],
		size:    int64(total),
	}, 0, nil
}

// recordSize is what an item takes in the outbox.
func recordSize(payload []byte) int64 { return int64(recordHeader + len(payload)) }
