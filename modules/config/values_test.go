package config

import (
	"testing"
	"time"
)

func TestByteSize(t *testing.T) {
	good := map[string]ByteSize{"512m": 512 << 20, "2g": 2 << 30, "2G": 2 << 30, "1.5g": 3 << 29, "64k": 64 << 10, "4096": 4096, "1GiB": 1 << 30, "10 mb": 10 << 20}
	for in, want := range good {
		got, err := ParseByteSize(in)
		if err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "g", "2x", "-1m", "1.2.3g"} {
		if _, err := ParseByteSize(in); err == nil {
			t.Errorf("ParseByteSize(%q): want error", in)
		}
	}
	if s := ByteSize(2 << 30).String(); s != "2g" {
		t.Errorf("String = %s", s)
	}
	if s := ByteSize(2 << 30).Human(); s != "2 GiB" {
		t.Errorf("Human = %s", s)
	}
}

func TestDuration(t *testing.T) {
	good := map[string]time.Duration{"30m": 30 * time.Minute, "1h30m": 90 * time.Minute, "7d": 7 * 24 * time.Hour, "90s": 90 * time.Second}
	for in, want := range good {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseDuration("soon"); err == nil {
		t.Error("want error")
	}
	for d, want := range map[time.Duration]string{30 * time.Minute: "30m", time.Hour: "1h", 90 * time.Second: "1m30s", 48 * time.Hour: "2d"} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %s, want %s", d, got, want)
		}
	}
}
