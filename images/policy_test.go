package images_test

import (
	"testing"

	"github.com/claudette-dev/claudette-runner/images"
	"github.com/containerd/errdefs"
)

func TestPolicyAllows(t *testing.T) {
	cases := map[string]struct {
		patterns []string
		allowed  []string
		denied   []string
	}{
		"no patterns allow all": {
			allowed: []string{"busybox", "claudette/sandbox:1", "registry.example.com/a/b@sha256:" + sha},
		},
		"repository pattern allows every tag": {
			patterns: []string{"claudette/sandbox"},
			allowed:  []string{"claudette/sandbox", "claudette/sandbox:1.2", "docker.io/claudette/sandbox:latest", "claudette/sandbox@sha256:" + sha},
			denied:   []string{"claudette/sandbox-evil:1", "evil/claudette/sandbox", "busybox"},
		},
		"tag pattern": {
			patterns: []string{"claudette/sandbox:1.*"},
			allowed:  []string{"claudette/sandbox:1.2", "docker.io/claudette/sandbox:1.0"},
			denied:   []string{"claudette/sandbox:2.0", "claudette/sandbox", "claudette/sandbox:latest"},
		},
		"star stays in a segment": {
			patterns: []string{"registry.example.com/team/*"},
			allowed:  []string{"registry.example.com/team/app:3", "registry.example.com/team/app"},
			denied:   []string{"registry.example.com/team/sub/app:3", "registry.example.com/other/app", "team/app"},
		},
		"double star crosses segments": {
			patterns: []string{"registry.example.com/**"},
			allowed:  []string{"registry.example.com/team/sub/app:3", "registry.example.com/x"},
			denied:   []string{"registry.example.org/x", "x"},
		},
		"full form of a docker hub image": {
			patterns: []string{"docker.io/library/busybox:*"},
			allowed:  []string{"busybox", "busybox:1.36", "library/busybox:1"},
			denied:   []string{"busybox2", "other/busybox:1"},
		},
		"registry with port": {
			patterns: []string{"127.0.0.1:5000/claudette/*"},
			allowed:  []string{"127.0.0.1:5000/claudette/sandbox:1"},
			denied:   []string{"127.0.0.1:5001/claudette/sandbox:1"},
		},
		"several patterns": {
			patterns: []string{"a/b", "c/d:1"},
			allowed:  []string{"a/b:9", "c/d:1"},
			denied:   []string{"c/d:2", "e/f"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p, err := images.NewPolicy("never", tc.patterns)
			if err != nil {
				t.Fatal(err)
			}
			for _, ref := range tc.allowed {
				if !p.Allows(ref) {
					t.Errorf("%s denied, want allowed", ref)
				}
			}
			for _, ref := range tc.denied {
				if p.Allows(ref) {
					t.Errorf("%s allowed, want denied", ref)
				}
				if err := p.Check(ref); !errdefs.IsPermissionDenied(err) {
					t.Errorf("check %s: %v, want permission denied", ref, err)
				}
			}
		})
	}
}

const sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestPolicyInvalid(t *testing.T) {
	if _, err := images.NewPolicy("sometimes", nil); !errdefs.IsInvalidArgument(err) {
		t.Errorf("bad pull policy: %v", err)
	}
	if _, err := images.NewPolicy("always", []string{" "}); !errdefs.IsInvalidArgument(err) {
		t.Errorf("empty pattern: %v", err)
	}
	p, err := images.NewPolicy("", nil)
	if err != nil || p.Pull != "if-not-present" {
		t.Errorf("default policy %+v %v", p, err)
	}
}
