package config

import (
	"fmt"
	"net/mail"
	"net/url"
	"path"
	"strings"
)

// Author is a commit identity.
type Author struct{ Name, Email string }

// String is "Name <email>".
func (a Author) String() string { return a.Name + " <" + a.Email + ">" }

// ParseAuthor reads "Name <email>" (gitAuthor).
func ParseAuthor(s string) (Author, error) {
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Name == "" || strings.ContainsAny(s, "\x00\n\r") {
		return Author{}, fmt.Errorf(`must be "Name <email>", got %q`, s)
	}
	return Author{Name: addr.Name, Email: addr.Address}, nil
}

// checkBranchPattern accepts a branch name pattern with * wildcards
// (claudette/*): what path.Match reads, without character classes or escapes.
func checkBranchPattern(p string) error {
	if p == "" || strings.ContainsAny(p, "[]\\?\x00 ~^:") || strings.HasPrefix(p, "-") || strings.HasPrefix(p, "refs/") {
		return fmt.Errorf("%q is not a branch pattern (a branch name with * wildcards, e.g. claudette/*)", p)
	}
	if _, err := path.Match(p, ""); err != nil {
		return fmt.Errorf("%q: %v", p, err)
	}
	return nil
}

// BranchAllowed reports whether branch (a short name, "claudette/c-1")
// matches one of patterns; * does not cross a '/'.
func BranchAllowed(patterns []string, branch string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, branch); ok {
			return true
		}
	}
	return false
}

// GitCredential is the runner's credential for a git URL's host, from
// tokens (ParseGitTokens): "host:port" is looked up first, then the host
// name. An entry "token" is Basic x-access-token:token, "user:token" is
// Basic user:token. ok is false when no entry matches.
func GitCredential(tokens map[string]string, rawURL string) (user, pass string, ok bool) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return "", "", false
	}
	tok, found := tokens[strings.ToLower(u.Host)]
	if !found {
		tok, found = tokens[strings.ToLower(u.Hostname())]
	}
	if !found || tok == "" {
		return "", "", false
	}
	if name, p, cut := strings.Cut(tok, ":"); cut && name != "" && p != "" {
		return name, p, true
	}
	return "x-access-token", tok, true
}
