package main

import (
	"strings"
	"testing"
)

func TestParseArgs(t *testing.T) {
	tests := map[string]struct {
		args    []string
		check   func(o *options) bool
		wantErr string
	}{
		"print and prompt": {args: []string{"-p", "hello", "--output-format", "stream-json", "--verbose"},
			check: func(o *options) bool {
				return o.print && o.verbose && o.outputFormat == "stream-json" && o.prompt == "hello"
			}},
		"equals form": {args: []string{"--print", "--session-id=11111111-2222-4333-8444-555555555555", "--output-format=json"},
			check: func(o *options) bool {
				return o.sessionID == "11111111-2222-4333-8444-555555555555" && o.outputFormat == "json" && !o.hasPrompt
			}},
		"variadic tools stop at flags": {args: []string{"-p", "--allowedTools", "Bash,Edit", "Write", "--verbose", "hi"},
			check: func(o *options) bool { return o.verbose && o.prompt == "hi" }},
		"resume short": {args: []string{"-p", "-r", "abc", "x"},
			check: func(o *options) bool { return o.resumeSet && o.resume == "abc" && o.prompt == "x" }},
		"ignored real flags": {args: []string{"-p", "--setting-sources", "user", "--mcp-config", "a.json", "--bare", "--max-turns", "3"},
			check: func(o *options) bool { return o.maxTurns == 3 }},
		"unknown long":    {args: []string{"-p", "--bogus"}, wantErr: "error: unknown option '--bogus'"},
		"unknown short":   {args: []string{"-x"}, wantErr: "error: unknown option '-x'"},
		"bad choice":      {args: []string{"--output-format", "xml"}, wantErr: "Allowed choices are text, json, stream-json."},
		"missing value":   {args: []string{"--model"}, wantErr: "error: option '--model <model>' argument missing"},
		"too many args":   {args: []string{"-p", "a", "b"}, wantErr: "too many arguments"},
		"bad max turns":   {args: []string{"--max-turns", "0"}, wantErr: "--max-turns"},
		"bool with value": {args: []string{"--verbose=1"}, wantErr: "does not take an argument"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			o, err := parseArgs(tc.args)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if !tc.check(o) {
				t.Fatalf("unexpected options %+v", *o)
			}
		})
	}
}

func TestCheckUsage(t *testing.T) {
	tests := map[string]struct {
		args    []string
		wantErr string
	}{
		"stream-json needs verbose":      {[]string{"-p", "x", "--output-format", "stream-json"}, "Error: When using --print, --output-format=stream-json requires --verbose"},
		"input stream-json needs output": {[]string{"-p", "--input-format", "stream-json"}, "requires output-format=stream-json"},
		"session id must be a uuid":      {[]string{"-p", "--session-id", "nope"}, "Error: Invalid session ID. Must be a valid UUID."},
		"no print":                       {[]string{"hello"}, "--print"},
		"ok":                             {[]string{"-p", "--output-format", "stream-json", "--verbose"}, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			o, err := parseArgs(tc.args)
			if err != nil {
				t.Fatal(err)
			}
			err = o.checkUsage()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestParseSizeAndDuration(t *testing.T) {
	sizes := map[string]int64{"512": 512, "64k": 64 << 10, "512m": 512 << 20, "2g": 2 << 30, "1.5G": 3 << 29, "10MiB": 10 << 20, "3MB": 3 << 20}
	for in, want := range sizes {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := parseSize("lots"); err == nil {
		t.Error("parseSize(lots) did not fail")
	}
	if d, err := parseDuration("5s"); err != nil || d.Seconds() != 5 {
		t.Errorf("parseDuration(5s) = %v, %v", d, err)
	}
	if d, err := parseDuration("0.5"); err != nil || d.Milliseconds() != 500 {
		t.Errorf("parseDuration(0.5) = %v, %v", d, err)
	}
}

func TestParseProbes(t *testing.T) {
	got := parseProbes("intro\nPROBE write /tmp/x a  b\n  PROBE report\nnot PROBE this\nPROBE\n")
	if len(got) != 2 || got[0].name != "write" || got[0].args != "/tmp/x a  b" || got[1].name != "report" {
		t.Fatalf("probes %+v", got)
	}
}
