package demo

import (
	"slices"
	"testing"
)

func TestParseLdd(t *testing.T) {
	out := []byte(`	linux-vdso.so.1 (0x00007ffd)
	libcurl-gnutls.so.4 => /lib/x86_64-linux-gnu/libcurl-gnutls.so.4 (0x00007f)
	libz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x00007f)
	/lib64/ld-linux-x86-64.so.2 (0x00007f)
`)
	got, err := parseLdd(out)
	want := []string{"/lib/x86_64-linux-gnu/libcurl-gnutls.so.4", "/lib/x86_64-linux-gnu/libz.so.1", "/lib64/ld-linux-x86-64.so.2"}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("parseLdd = %v, %v; want %v", got, err, want)
	}
	if _, err := parseLdd([]byte("\tlibgone.so.1 => not found\n")); err == nil {
		t.Fatal("a library ldd cannot find was accepted")
	}
}
