package config

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"
)

// Sources are where a configuration comes from, lowest precedence first: the
// defaults, the JSON file, the environment, then Overrides (and, from the CLI, flags).
type Sources struct {
	// File is the JSON config file. Empty: CLAUDETTE_CONFIG, or no file.
	File string
	// LookupEnv reads the environment; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// Overrides set settings by config key ("maxConcurrent", "sandbox.image"),
	// above everything else. They are what flags are to the CLI.
	Overrides map[string]string
}

// Load reads a configuration from src without a command line: the entry point for
// programs that embed the runner. See Loader for the CLI's flags.
func Load(src Sources) (*Config, error) {
	return NewLoader("claudette-runner").Load(src)
}

// Loader reads one command line's settings. Its flag set carries every flag of
// the settings table; a command adds its own flags to FlagSet() before Parse.
type Loader struct {
	fs      *pflag.FlagSet
	flagged []assignment
}

type assignment struct {
	s   setting
	raw string
}

// recorder is the pflag.Value of a setting's flag: it remembers what was given
// so that flags can be applied last, after the file and the environment.
type recorder struct {
	l    *Loader
	s    setting
	show value
}

func (r recorder) Set(v string) error {
	r.l.flagged = append(r.l.flagged, assignment{r.s, v})
	return nil
}
func (r recorder) String() string { return r.show.String() }
func (r recorder) Type() string   { return r.show.Type() }

// NewLoader returns a Loader whose flag set is named for the command.
func NewLoader(command string) *Loader {
	l := &Loader{fs: pflag.NewFlagSet(command, pflag.ContinueOnError)}
	l.fs.SortFlags = false
	l.fs.Usage = func() {}
	defaults := Defaults()
	for _, s := range settings {
		if s.flag == "" {
			continue
		}
		f := l.fs.VarPF(recorder{l: l, s: s, show: s.bind(defaults)}, s.flag, s.short, s.usage)
		if f.Value.Type() == "bool" {
			f.NoOptDefVal = "true"
		}
	}
	return l
}

// FlagSet is the command line's flag set, for commands to add their own flags.
func (l *Loader) FlagSet() *pflag.FlagSet { return l.fs }

// Parse reads the command line. An error is a usage error (unknown flag, missing
// argument); bad values are reported by Load as problems.
func (l *Loader) Parse(args []string) error {
	l.flagged = nil
	return l.fs.Parse(args)
}

// Load fills a Config: defaults < file < environment < overrides < flags. The
// Config is returned even when err is non-nil; err is then Problems, one per
// value that could not be read.
func (l *Loader) Load(src Sources) (*Config, error) {
	lookup := src.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	cfg := Defaults()
	var problems Problems

	// The file's own path comes from the flag, the override, the caller, or the environment.
	cfg.ConfigFile = src.File
	if v, ok := lookup("CLAUDETTE_CONFIG"); ok && cfg.ConfigFile == "" {
		cfg.ConfigFile = v
	}
	if v, ok := src.Overrides["config"]; ok {
		cfg.ConfigFile = v
	}
	for _, a := range l.flagged {
		if a.s.flag == "config" {
			cfg.ConfigFile = a.raw
		}
	}

	if cfg.ConfigFile != "" {
		values, fileProblems := readFile(cfg.ConfigFile)
		problems = append(problems, fileProblems...)
		for _, kv := range values {
			problems = problems.add(kv.s, "in "+cfg.ConfigFile, kv.s.bind(cfg).Set(kv.raw))
		}
	}
	for _, s := range settings {
		if s.env == "" || s.flag == "config" {
			continue
		}
		v, ok := lookup(s.env)
		if !ok || v == "" {
			continue
		}
		if s.env == "DEBUG" {
			// Any non-empty value but 0/false turns debug on (CONTRACT.md section 1).
			cfg.Debug = v != "0" && !strings.EqualFold(v, "false")
			continue
		}
		problems = problems.add(s, "in "+s.env, s.bind(cfg).Set(v))
	}
	for key, v := range src.Overrides {
		s, ok := byKey(key)
		if !ok {
			if key != "config" {
				problems = append(problems, Problem{Setting: "override " + key, Message: "unknown config key"})
			}
			continue
		}
		problems = problems.add(s, "in override", s.bind(cfg).Set(v))
	}
	for _, a := range l.flagged {
		if a.s.flag != "config" {
			problems = problems.add(a.s, "in --"+a.s.flag, a.s.bind(cfg).Set(a.raw))
		}
	}
	if len(problems) > 0 {
		return cfg, problems
	}
	return cfg, nil
}

func byKey(key string) (setting, bool) {
	for _, s := range settings {
		if s.key != "" && s.key == key {
			return s, true
		}
	}
	return setting{}, false
}

// Problem is one thing an operator must fix, naming every way to set it.
type Problem struct {
	Setting string
	Message string
}

func (p Problem) String() string { return p.Setting + ": " + p.Message }

// Problems is every problem found; as an error it prints one line per problem.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

func (ps Problems) add(s setting, where string, err error) Problems {
	if err == nil {
		return ps
	}
	return append(ps, Problem{Setting: s.source(), Message: fmt.Sprintf("%v (%s)", err, where)})
}

func errInvalid(want, got string) error {
	return fmt.Errorf("invalid %s %q", want, got)
}
