package images

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
)

// Policy is what the operator allows: when to pull (--sandbox-pull) and which
// images may run at all (allowed image patterns).
type Policy struct {
	// Pull is config.PullAlways, config.PullIfNotPresent or config.PullNever.
	Pull string
	// Allowed are image patterns; empty allows every image. See Allows.
	Allowed []string

	patterns []pattern
}

type pattern struct {
	re     *regexp.Regexp
	tagged bool // the pattern names a tag or digest, not only a repository
}

// NewPolicy checks the pull policy and compiles the allowed image patterns.
func NewPolicy(pull string, allowed []string) (Policy, error) {
	switch pull {
	case config.PullAlways, config.PullIfNotPresent, config.PullNever:
	case "":
		pull = config.PullIfNotPresent
	default:
		return Policy{}, fmt.Errorf("pull policy %q: want %s, %s or %s: %w",
			pull, config.PullAlways, config.PullIfNotPresent, config.PullNever, errdefs.ErrInvalidArgument)
	}
	p := Policy{Pull: pull, Allowed: allowed}
	for _, raw := range allowed {
		pat, err := compilePattern(raw)
		if err != nil {
			return Policy{}, err
		}
		p.patterns = append(p.patterns, pat)
	}
	return p, nil
}

// Allows reports whether ref may run. A pattern is a glob over the image
// reference in its short form ("claudette/sandbox:1.2", "busybox:latest") or
// its full form ("docker.io/library/busybox:latest"): "*" matches within one
// path segment, "**" across segments. A pattern without a tag or digest
// ("registry.example.com/team/*") allows every tag and digest of the
// repositories it matches. No patterns allow every image.
func (p Policy) Allows(ref string) bool {
	if len(p.patterns) == 0 {
		return true
	}
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return false
	}
	withTag := reference.TagNameOnly(named)
	names := []string{reference.FamiliarName(named), named.Name()}
	refs := []string{reference.FamiliarString(withTag), withTag.String()}
	for _, pat := range p.patterns {
		candidates := names
		if pat.tagged {
			candidates = refs
		}
		for _, c := range candidates {
			if pat.re.MatchString(c) {
				return true
			}
		}
	}
	return false
}

// Check returns a PermissionDenied-class error naming the patterns when ref
// may not run.
func (p Policy) Check(ref string) error {
	if p.Allows(ref) {
		return nil
	}
	return fmt.Errorf("image %s is not allowed by the allowed image patterns [%s]: %w",
		ref, strings.Join(p.Allowed, ", "), errdefs.ErrPermissionDenied)
}

func compilePattern(raw string) (pattern, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return pattern{}, fmt.Errorf("allowed image pattern %q is empty: %w", raw, errdefs.ErrInvalidArgument)
	}
	lastSlash := strings.LastIndex(s, "/")
	tagged := strings.Contains(s, "@") || strings.Contains(s[lastSlash+1:], ":")
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(s); i++ {
		switch {
		case strings.HasPrefix(s[i:], "**"):
			b.WriteString(".*")
			i++
		case s[i] == '*':
			b.WriteString("[^/]*")
		case s[i] == '?':
			b.WriteString("[^/]")
		default:
			b.WriteString(regexp.QuoteMeta(s[i : i+1]))
		}
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return pattern{}, fmt.Errorf("allowed image pattern %q: %w", raw, err)
	}
	return pattern{re: re, tagged: tagged}, nil
}
