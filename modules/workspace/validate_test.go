package workspace

import (
	"context"
	"strings"
	"testing"

	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/containerd/errdefs"
)

func TestValidateRepositoryRefuses(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		url, ref  string
		allowHTTP bool
		field     string
	}{
		"empty url":              {url: "", field: fieldURL},
		"file url":               {url: "file:///etc/passwd", field: fieldURL},
		"file url upper":         {url: "FILE:///srv/repo.git", field: fieldURL},
		"absolute path":          {url: "/srv/git/repo.git", field: fieldURL},
		"relative path":          {url: "../other/repo", field: fieldURL},
		"dot path":               {url: ".", field: fieldURL},
		"ext transport":          {url: "ext::sh -c touch% /tmp/pwned", field: fieldURL},
		"ext transport no space": {url: "ext::/bin/sh", field: fieldURL},
		"fd transport":           {url: "fd::3", field: fieldURL},
		"https transport helper": {url: "https::example.com/repo", field: fieldURL},
		"ssh url":                {url: "ssh://git@github.com/acme/app.git", field: fieldURL},
		"git protocol":           {url: "git://github.com/acme/app.git", field: fieldURL},
		"scp-like":               {url: "git@github.com:acme/app.git", field: fieldURL},
		"scp-like no user":       {url: "github.com:acme/app.git", field: fieldURL},
		"http not allowed":       {url: "http://example.com/repo.git", field: fieldURL},
		"user and password":      {url: "https://user:pw@github.com/acme/app.git", field: fieldURL},
		"token as user":          {url: "https://ghp_secret@github.com/acme/app.git", field: fieldURL},
		"empty user info":        {url: "https://@github.com/acme/app.git", field: fieldURL},
		"empty host":             {url: "https:///acme/app.git", field: fieldURL},
		"opaque https":           {url: "https:github.com/acme/app.git", field: fieldURL},
		"port only host":         {url: "https://:443/acme/app.git", field: fieldURL},
		"option-like":            {url: "--upload-pack=touch /tmp/x", field: fieldURL},
		"space":                  {url: "https://github.com/acme/app .git", field: fieldURL},
		"newline":                {url: "https://github.com/acme/app.git\n", field: fieldURL},
		"nul":                    {url: "https://github.com/acme\x00/app.git", field: fieldURL},
		"fragment":               {url: "https://github.com/acme/app.git#main", field: fieldURL},
		"too long":               {url: "https://github.com/" + strings.Repeat("a", 2100), field: fieldURL},
		"ref option":             {url: "https://github.com/acme/app.git", ref: "--upload-pack=x", field: fieldRef},
		"ref dash":               {url: "https://github.com/acme/app.git", ref: "-b", field: fieldRef},
		"ref range":              {url: "https://github.com/acme/app.git", ref: "main..dev", field: fieldRef},
		"ref traversal":          {url: "https://github.com/acme/app.git", ref: "../../etc/passwd", field: fieldRef},
		"ref space":              {url: "https://github.com/acme/app.git", ref: "my branch", field: fieldRef},
		"ref tab":                {url: "https://github.com/acme/app.git", ref: "a\tb", field: fieldRef},
		"ref newline":            {url: "https://github.com/acme/app.git", ref: "main\n", field: fieldRef},
		"ref control":            {url: "https://github.com/acme/app.git", ref: "ma\x1bin", field: fieldRef},
		"ref revision syntax":    {url: "https://github.com/acme/app.git", ref: "HEAD~1", field: fieldRef},
		"ref reflog syntax":      {url: "https://github.com/acme/app.git", ref: "main@{1}", field: fieldRef},
		"ref glob":               {url: "https://github.com/acme/app.git", ref: "refs/heads/*", field: fieldRef},
		"ref colon":              {url: "https://github.com/acme/app.git", ref: "a:b", field: fieldRef},
		"ref lock":               {url: "https://github.com/acme/app.git", ref: "main.lock", field: fieldRef},
		"ref absolute":           {url: "https://github.com/acme/app.git", ref: "/main", field: fieldRef},
		"ref too long":           {url: "https://github.com/acme/app.git", ref: strings.Repeat("a", 300), field: fieldRef},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := ValidateRepository(Repository{URL: tc.url, Ref: tc.ref}, tc.allowHTTP)
			assertFieldError(t, err, tc.field)
		})
	}
}

func TestValidateRepositoryAccepts(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		url, ref  string
		allowHTTP bool
	}{
		"https":                 {url: "https://github.com/acme/app.git"},
		"https no suffix":       {url: "https://gitlab.example.com/group/sub/app"},
		"https port":            {url: "https://git.example.com:8443/app.git", ref: "main"},
		"http when allowed":     {url: "http://127.0.0.1:8080/app.git", allowHTTP: true},
		"branch with slash":     {url: "https://github.com/acme/app.git", ref: "feature/login"},
		"tag":                   {url: "https://github.com/acme/app.git", ref: "v1.2.3"},
		"full ref":              {url: "https://github.com/acme/app.git", ref: "refs/pull/12/head"},
		"sha":                   {url: "https://github.com/acme/app.git", ref: "0123456789abcdef0123456789abcdef01234567"},
		"query kept":            {url: "https://git.example.com/app.git?private=1"},
		"upper scheme accepted": {url: "HTTPS://github.com/acme/app.git"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if err := ValidateRepository(Repository{URL: tc.url, Ref: tc.ref}, tc.allowHTTP); err != nil {
				t.Errorf("ValidateRepository(%q, %q) = %v; want nil", tc.url, tc.ref, err)
			}
		})
	}
}

func TestValidateID(t *testing.T) {
	t.Parallel()
	for _, good := range []string{"ws-1", "a", "A.b_c-9", "-leading-dash", strings.Repeat("x", 64)} {
		if err := ValidateID("workspaceId", good); err != nil {
			t.Errorf("ValidateID(%q) = %v", good, err)
		}
	}
	for _, bad := range []string{"", ".", "..", ".hidden", "../etc", "a/b", `a\b`, "a b", "ws\n", "ws\x00", "é", strings.Repeat("x", 65)} {
		assertFieldError(t, ValidateID("conversationId", bad), "conversationId")
	}
}

// Every refusal also holds through Prepare, Lock, Delete and PrepareLocal,
// before anything touches the disk or the network.
func TestEntryPointsRefuseBadInputFirst(t *testing.T) {
	t.Parallel()
	s := newServed(t)
	h := newHarness(t, nil)
	ctx := context.Background()
	good := Repository{URL: s.url}
	for _, id := range []string{"../escape", "..", ".git", "a/../../b", "/abs", ""} {
		_, err := h.m.Prepare(ctx, id, good)
		assertFieldError(t, err, "workspaceId")
		_, err = h.m.PrepareLocal(ctx, id, s.repo.WorkDir(), "")
		assertFieldError(t, err, "workspaceId")
		_, err = h.m.Lock(ctx, id)
		assertFieldError(t, err, "workspaceId")
		assertFieldError(t, h.m.Delete(ctx, id, nil), "workspaceId")
		_, err = h.m.AgentStateDir(id)
		assertFieldError(t, err, "workspaceId")
	}
	for _, repo := range []Repository{
		{URL: "file://" + s.repo.Dir}, {URL: s.repo.Dir}, {URL: "ext::sh -c id"},
		{URL: strings.Replace(s.url, "http://", "http://x:tok@", 1)}, {URL: s.url, Ref: "--upload-pack=id"},
	} {
		_, err := h.m.Prepare(ctx, "ws-1", repo)
		if !errdefs.IsInvalidArgument(err) {
			t.Errorf("Prepare(%+v) = %v; want invalid argument", repo, err)
		}
	}
	_, err := h.m.PrepareLocal(ctx, "ws-1", "--help", "")
	assertFieldError(t, err, "path")
	_, err = h.m.PrepareLocal(ctx, "ws-1", s.repo.WorkDir(), "-x")
	assertFieldError(t, err, "ref")
	if n := len(s.srv.Requests()); n != 0 {
		t.Errorf("refused input reached the server %d times", n)
	}
	assertOnlyWorkspaces(t, h)
}

func TestHTTPNeedsTheOperatorsConsent(t *testing.T) {
	t.Parallel()
	s := newServed(t)
	h := newHarness(t, func(c *config.Config) { c.Git.AllowHTTP = false })
	_, err := h.m.Prepare(context.Background(), "ws-1", Repository{URL: s.url})
	assertFieldError(t, err, fieldURL)
	if !strings.Contains(err.Error(), "http:// is not allowed") {
		t.Errorf("error %q does not say why", err)
	}
}

func assertFieldError(t *testing.T, err error, field string) {
	t.Helper()
	var fe *FieldError
	if err == nil || !errdefs.IsInvalidArgument(err) || !asFieldError(err, &fe) || fe.Field != field {
		t.Errorf("error = %v; want an invalid argument naming %s", err, field)
		return
	}
	if !strings.HasPrefix(err.Error(), field+": ") {
		t.Errorf("message %q does not start with the field", err)
	}
}
