package workspace

import (
	"net/url"
	"strings"
	"unicode"

	"github.com/claudette-dev/claudette-runner/modules/config"
)

// Repository is the repository a workspace is a checkout of, and the ref its
// first turn checks out (branch, tag, full ref name or commit sha; the
// default branch when empty).
type Repository struct {
	URL string `json:"url"`
	Ref string `json:"ref,omitempty"`
	// Branch is the conversation's own branch, the one ref the agent may
	// push (CONTRACT section 6); "" = claudette/{conversationId}.
	Branch string `json:"branch,omitempty"`
	// Push is "never" (or "") or "always": the runner commits and pushes
	// the branch after every completed turn.
	Push string `json:"push,omitempty"`
}

// Push policies of repository.push.
const (
	PushNever  = "never"
	PushAlways = "always"
)

const (
	fieldURL = "repository.url"
	fieldRef = "repository.ref"

	maxURLLen = 2048
	maxRefLen = 255
)

// ValidateID checks a workspace or conversation id against CONTRACT's pattern
// (1-64 of [A-Za-z0-9._-], not starting with '.'); field names it in the error.
func ValidateID(field, id string) error {
	if !config.IDPattern.MatchString(id) {
		return fieldErr(field, "must be 1-64 of A-Z a-z 0-9 . _ - and not start with '.', got %q", truncate(id))
	}
	return nil
}

// ValidateRepository checks a repository URL and ref against the runner's
// policy: only https:// (and http:// when allowHTTP), a host, no embedded
// credentials, no local paths or other transports (file://, ssh://, ext::,
// scp-like git@host:path); a ref that cannot be taken for an option or a
// range and holds no control characters or spaces.
func ValidateRepository(r Repository, allowHTTP bool) error {
	if err := validateURL(r.URL, allowHTTP); err != nil {
		return err
	}
	return validateRef(fieldRef, r.Ref)
}

func validateURL(raw string, allowHTTP bool) error {
	switch {
	case raw == "":
		return fieldErr(fieldURL, "is required")
	case len(raw) > maxURLLen:
		return fieldErr(fieldURL, "is longer than %d bytes", maxURLLen)
	case hasControlOrSpace(raw):
		return fieldErr(fieldURL, "must not contain spaces or control characters")
	case strings.HasPrefix(raw, "-"):
		return fieldErr(fieldURL, "must not start with '-'")
	case strings.Contains(raw, "::"):
		return fieldErr(fieldURL, "transport syntax (e.g. ext::) is not allowed; use an https:// URL")
	}
	want := "an https:// URL"
	if allowHTTP {
		want = "an https:// or http:// URL"
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return fieldErr(fieldURL, "must be %s (local paths and scp-like user@host:path are not allowed)", want)
	}
	switch scheme := strings.ToLower(u.Scheme); {
	case scheme == "https":
	case scheme == "http" && allowHTTP:
	case scheme == "http":
		return fieldErr(fieldURL, "http:// is not allowed by this runner; use https://")
	default:
		return fieldErr(fieldURL, "scheme %q is not allowed; must be %s", u.Scheme, want)
	}
	switch {
	case u.User != nil:
		return fieldErr(fieldURL, "must not embed credentials; the runner supplies its own")
	case u.Opaque != "" || u.Hostname() == "":
		return fieldErr(fieldURL, "must name a host")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return fieldErr(fieldURL, "must not have a fragment")
	}
	return nil
}

// validateRef refuses what git would read as an option, a range or a pattern,
// and what no ref name may hold; emptiness means the default branch.
func validateRef(field, ref string) error {
	switch {
	case ref == "":
		return nil
	case len(ref) > maxRefLen:
		return fieldErr(field, "is longer than %d bytes", maxRefLen)
	case strings.HasPrefix(ref, "-"):
		return fieldErr(field, "must not start with '-'")
	case strings.Contains(ref, ".."):
		return fieldErr(field, "must not contain '..'")
	case hasControlOrSpace(ref):
		return fieldErr(field, "must not contain spaces or control characters")
	case strings.ContainsAny(ref, "~^:?*[\\"), strings.Contains(ref, "@{"):
		return fieldErr(field, "must be a branch, tag or commit, not a revision expression")
	case strings.HasPrefix(ref, "/"), strings.HasSuffix(ref, "/"), strings.Contains(ref, "//"),
		strings.HasSuffix(ref, "."), strings.HasSuffix(ref, ".lock"):
		return fieldErr(field, "is not a valid ref name")
	}
	return nil
}

func hasControlOrSpace(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) || r == unicode.ReplacementChar {
			return true
		}
	}
	return false
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
