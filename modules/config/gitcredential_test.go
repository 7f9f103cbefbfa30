package config

import "testing"

func TestGitCredential(t *testing.T) {
	tokens, err := ParseGitTokens("github.com=tok1,git.example.com:8443=alice:tok2,Example.ORG=tok3")
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct{ url, user, pass string }{
		"token":        {"https://github.com/o/r.git", "x-access-token", "tok1"},
		"user:token":   {"https://git.example.com:8443/r", "alice", "tok2"},
		"host by name": {"https://github.com:443/o/r", "x-access-token", "tok1"},
		"case":         {"https://example.org/r", "x-access-token", "tok3"},
		"none":         {"https://gitlab.com/o/r", "", ""},
		"not a url":    {"/local/path", "", ""},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			user, pass, ok := GitCredential(tokens, c.url)
			if user != c.user || pass != c.pass || ok != (c.user != "") {
				t.Errorf("got %q %q %v", user, pass, ok)
			}
		})
	}
}
