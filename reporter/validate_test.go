package reporter

import (
	"encoding/json"
	"strings"
	"testing"
)

var jsonSamples = []string{
	``, ` `, `{}`, `[]`, `""`, `0`, `-0`, `01`, `1.`, `.5`, `1e5`, `1E+5`, `1e-`, `-`, `--1`, `1.5e3`,
	`true`, `false`, `null`, `nul`, `truex`, `True`, `{"a":1}`, `{"a":1,}`, `{"a" 1}`, `{a:1}`, `[1,2,]`, `[,]`,
	`[1 2]`, `{"a":[{"b":null}]}`, ` {"a" : "b" } `, `"\u00e9"`, `"\u00g9"`, `"\x"`, `"a\"b"`, `"a\\"`,
	"\"tab\tin\"", "\"\x7f\"", "\"\xff\xfe\"", `"é 漢字"`, `{"a":"b"}{}`, `[` + strings.Repeat(`"abcdefgh"`, 3) + `]`,
	`"12345678\"12345678"`, `"1234567\\\\"`, "\"123456789012345\n\"", `"unterminated`, `"abcdefghijklmnop`,
	strings.Repeat("[", 10000) + strings.Repeat("]", 10000), strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	`{"type":"assistant","message":{"content":[{"type":"text","text":"` + strings.Repeat("x", 1000) + `"}]}}`,
}

func TestValidJSONAgreesWithEncodingJSON(t *testing.T) {
	for _, s := range jsonSamples {
		if got, want := validJSON([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Errorf("validJSON(%.60q) = %v, encoding/json says %v", s, got, want)
		}
	}
}

func FuzzValidJSON(f *testing.F) {
	for _, s := range jsonSamples {
		if len(s) < 2000 { // deep nesting stays in the table test: it stalls the fuzzer
			f.Add([]byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := validJSON(b), json.Valid(b); got != want {
			t.Fatalf("validJSON(%q) = %v, encoding/json says %v", b, got, want)
		}
	})
}

func BenchmarkValidJSON(b *testing.B) {
	ev := []byte(jsonSamples[len(jsonSamples)-1])
	b.Run("reporter", func(b *testing.B) {
		b.SetBytes(int64(len(ev)))
		for b.Loop() {
			validJSON(ev)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(ev)))
		for b.Loop() {
			json.Valid(ev)
		}
	})
}
