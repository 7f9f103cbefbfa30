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
	fieldURL    = "repository.url"
	fieldRef    = "repository.ref"
	fieldBranch = "repository.branch"
	fieldPush   = "repository.push"

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

// DefaultBranch is the conversation's branch when repository.branch is
// absent: claudette/{conversationId}.
func DefaultBranch(conversationID string) string { return "claudette/" + conversationID }

// ValidateGit checks repository.push ("", "never" or "always") and
// repository.branch (a valid branch name, see ValidateBranch); with push
// "always" the branch must match pushBranches (the operator's
// gitPushBranches). branch is the effective branch (the default filled in).
func ValidateGit(push, branch string, pushBranches []string) error {
	switch push {
	case "", PushNever, PushAlways:
	default:
		return fieldErr(fieldPush, "must be %q or %q, got %q", PushNever, PushAlways, truncate(push))
	}
	if err := validateBranch(fieldBranch, branch); err != nil {
		return err
	}
	if push == PushAlways && !config.BranchAllowed(pushBranches, branch) {
		if len(pushBranches) == 0 {
			return fieldErr(fieldBranch, "cannot be pushed: this runner allows no pushing (gitPushBranches is empty), so push %q is refused", PushAlways)
		}
		return fieldErr(fieldBranch, "%q does not match the branches this runner may push (%s)", branch, strings.Join(pushBranches, ", "))
	}
	return nil
}

// validateBranch applies git check-ref-format --branch: no component
// starting with '.' or ending in ".lock", no "..", "@{", control characters,
// spaces or any of ~^:?*[\, no leading '-' or '/', no trailing '/' or '.',
// no "//", not "@" or "HEAD".
func validateBranch(field, b string) error {
	bad := func(why string) error { return fieldErr(field, "%q is not a valid branch name: %s", truncate(b), why) }
	switch {
	case b == "":
		return fieldErr(field, "must not be empty")
	case len(b) > maxRefLen:
		return fieldErr(field, "is longer than %d bytes", maxRefLen)
	case strings.HasPrefix(b, "-"):
		return bad("it starts with '-'")
	case b == "@" || b == "HEAD":
		return bad("it is reserved")
	case strings.HasPrefix(b, "refs/"):
		return bad("give the short name (without refs/heads/)")
	case strings.Contains(b, ".."):
		return bad("it contains '..'")
	case strings.Contains(b, "@{"):
		return bad("it contains '@{'")
	case hasControlOrSpace(b):
		return bad("it contains spaces or control characters")
	case strings.ContainsAny(b, "~^:?*[\\\x7f"):
		return bad("it contains one of ~ ^ : ? * [ \\")
	case strings.HasPrefix(b, "/"), strings.HasSuffix(b, "/"), strings.Contains(b, "//"):
		return bad("it has an empty path component")
	case strings.HasSuffix(b, "."):
		return bad("it ends with '.'")
	}
	for _, c := range strings.Split(b, "/") {
		if strings.HasPrefix(c, ".") || strings.HasSuffix(c, ".lock") {
			return bad("a component starts with '.' or ends with '.lock'")
		}
	}
	return nil
}
