package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// ByteSize is a size in bytes written the way operators write them: "512m", "2g",
// "64k", "1.5g" or a plain number of bytes. Units are binary (1k = 1024).
type ByteSize int64

var sizeUnits = map[string]float64{
	"": 1, "b": 1,
	"k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10,
	"m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20,
	"g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30,
	"t": 1 << 40, "tb": 1 << 40, "tib": 1 << 40,
}

// ParseByteSize parses "512m", "2g", "1.5GiB", "4096".
func ParseByteSize(s string) (ByteSize, error) {
	in := strings.TrimSpace(s)
	i := strings.IndexFunc(in, func(r rune) bool { return !unicode.IsDigit(r) && r != '.' })
	num, unit := in, ""
	if i >= 0 {
		num, unit = in[:i], strings.ToLower(strings.TrimSpace(in[i:]))
	}
	mult, ok := sizeUnits[unit]
	if !ok || num == "" {
		return 0, fmt.Errorf("invalid size %q: want a number with an optional unit k, m, g or t (e.g. 512m, 2g)", s)
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("invalid size %q: want a number with an optional unit k, m, g or t (e.g. 512m, 2g)", s)
	}
	v := f * mult
	if v > math.MaxInt64 {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return ByteSize(v), nil
}

// String writes the size in the largest unit that divides it exactly ("2g", "512m").
func (b ByteSize) String() string {
	for _, u := range []struct {
		suffix string
		n      int64
	}{{"t", 1 << 40}, {"g", 1 << 30}, {"m", 1 << 20}, {"k", 1 << 10}} {
		if b != 0 && int64(b)%u.n == 0 {
			return strconv.FormatInt(int64(b)/u.n, 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(b), 10)
}

// Human writes the size for messages: "2 GiB", "512 MiB", "1.5 KiB".
func (b ByteSize) Human() string {
	for _, u := range []struct {
		suffix string
		n      float64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if float64(b) >= u.n {
			return strconv.FormatFloat(float64(b)/u.n, 'f', -1, 64) + " " + u.suffix
		}
	}
	return strconv.FormatInt(int64(b), 10) + " B"
}

// ParseDuration accepts Go durations ("30m", "1h30m", "90s") and whole days ("7d").
func ParseDuration(s string) (time.Duration, error) {
	in := strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(in, "d"); ok {
		n, err := strconv.Atoi(days)
		if err == nil && n >= 0 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(in)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: want e.g. 90s, 30m, 1h30m or 7d", s)
	}
	return d, nil
}

// FormatDuration writes a duration the way ParseDuration reads it, without Go's
// trailing zero units ("30m", not "30m0s").
func FormatDuration(d time.Duration) string {
	if d != 0 && d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// parseBool accepts what operators write for a switch. An empty value is true, so
// that a bare flag or DEBUG=yes both turn a switch on; "0" and "false" turn it off.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "1", "t", "true", "yes", "y", "on":
		return true, nil
	case "0", "f", "false", "no", "n", "off":
		return false, nil
	}
	return false, fmt.Errorf("invalid switch %q: want true or false", s)
}

// splitList reads a comma-separated list, dropping empty entries and blanks.
func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if p := strings.TrimSpace(part); p != "" {
			out = append(out, p)
		}
	}
	return out
}
