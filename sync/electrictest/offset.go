package electrictest

import (
	"errors"
	"math"
	"strconv"
	"strings"
)

// logOffset is an Electric log offset `<tx>_<op>`; op may be inf (math.MaxInt64).
type logOffset struct{ tx, op int64 }

var (
	beforeAll   = logOffset{tx: -1}
	snapshotEnd = logOffset{tx: 0, op: math.MaxInt64}
)

var errOffsetFormat = errors.New("has invalid format")

// parseOffset reads `-1` or `<tx>_<op|inf>` the way log_offset.ex does.
func parseOffset(s string) (logOffset, error) {
	if s == "-1" {
		return beforeAll, nil
	}
	tx, op, ok := strings.Cut(s, "_")
	if !ok || strings.Contains(op, "_") {
		return logOffset{}, errOffsetFormat
	}
	t, err := strconv.ParseInt(tx, 10, 64)
	if err != nil || t < 0 {
		return logOffset{}, errOffsetFormat
	}
	if op == "inf" {
		return logOffset{tx: t, op: math.MaxInt64}, nil
	}
	o, err := strconv.ParseInt(op, 10, 64)
	if err != nil || o < 0 {
		return logOffset{}, errOffsetFormat
	}
	return logOffset{tx: t, op: o}, nil
}

func (o logOffset) String() string {
	if o.tx < 0 {
		return "-1"
	}
	if o.op == math.MaxInt64 {
		return strconv.FormatInt(o.tx, 10) + "_inf"
	}
	return strconv.FormatInt(o.tx, 10) + "_" + strconv.FormatInt(o.op, 10)
}

func (o logOffset) less(p logOffset) bool {
	if o.tx != p.tx {
		return o.tx < p.tx
	}
	return o.op < p.op
}
