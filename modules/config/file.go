package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
)

// fileValue is one setting read from the config file.
type fileValue struct {
	s   setting
	raw string
}

// readFile reads the JSON config file. Nested objects and dotted keys are the same
// thing ({"sandbox":{"image":"x"}} is "sandbox.image"). An unknown key is a problem
// naming the key, so a typo is never silently ignored.
func readFile(path string) ([]fileValue, Problems) {
	fileSetting := Problem{Setting: "--config / CLAUDETTE_CONFIG"}
	data, err := os.ReadFile(path)
	if err != nil {
		fileSetting.Message = fmt.Sprintf("cannot read config file: %v", err)
		return nil, Problems{fileSetting}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var root map[string]any
	if err := dec.Decode(&root); err != nil {
		fileSetting.Message = fmt.Sprintf("config file %s is not a JSON object: %v", path, err)
		return nil, Problems{fileSetting}
	}
	flat := map[string]any{}
	flatten("", root, flat)
	keys := make([]string, 0, len(flat))
	for k := range flat {
		keys = append(keys, k)
	}
	sort.Strings(keys)

	var values []fileValue
	var problems Problems
	for _, k := range keys {
		s, ok := byKey(k)
		if !ok {
			msg := fmt.Sprintf("unknown key %q", k)
			if near := nearestKey(k); near != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", near)
			}
			problems = append(problems, Problem{Setting: "config file " + path, Message: msg})
			continue
		}
		raw, err := scalar(flat[k])
		if err != nil {
			problems = append(problems, Problem{Setting: s.source(), Message: fmt.Sprintf("%v (in %s)", err, path)})
			continue
		}
		if flat[k] != nil {
			values = append(values, fileValue{s, raw})
		}
	}
	return values, problems
}

func flatten(prefix string, m map[string]any, out map[string]any) {
	for k, v := range m {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		if sub, ok := v.(map[string]any); ok {
			flatten(key, sub, out)
			continue
		}
		out[key] = v
	}
}

// scalar turns a JSON value into the text a setting reads; lists become comma-separated.
func scalar(v any) (string, error) {
	switch t := v.(type) {
	case nil:
		return "", nil
	case string:
		return t, nil
	case json.Number:
		return t.String(), nil
	case bool:
		if t {
			return "true", nil
		}
		return "false", nil
	case []any:
		parts := make([]string, 0, len(t))
		for _, e := range t {
			s, err := scalar(e)
			if err != nil {
				return "", err
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ","), nil
	}
	return "", fmt.Errorf("unsupported value %v", v)
}

// nearestKey suggests a known key for a typo: same letters ignoring case, or one edit away.
func nearestKey(k string) string {
	best, bestDist := "", 3
	for _, s := range settings {
		if s.key == "" {
			continue
		}
		if strings.EqualFold(s.key, k) {
			return s.key
		}
		if d := editDistance(strings.ToLower(s.key), strings.ToLower(k)); d < bestDist {
			best, bestDist = s.key, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
