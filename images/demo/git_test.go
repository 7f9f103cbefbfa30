package demo_test

import (
	"strings"
	"testing"

	"github.com/claudette-dev/claudette-runner/images/demo"
	"github.com/claudette-dev/claudette-runner/images/demo/demotest"
)

// gitScript works a repository in /tmp of the hardened sandbox (read-only
// root, uid 1000, no network but loopback, HOME in /tmp): init, commit, a
// local clone and push (git-upload-pack and git-receive-pack), then a push,
// fetch, ls-remote and clone over smart HTTP (git-remote-http with its
// libraries) to `git http-backend` behind busybox httpd on 127.0.0.1.
const gitScript = `set -e
export HOME=/tmp/home
mkdir -p $HOME /tmp/www/cgi-bin /tmp/srv
git --version
cd /tmp && git init -q -b main r && cd r
echo hi > f && git add f && git -c user.name=Claude -c user.email=c@example.com commit -qm first
git status --porcelain=v1 --branch
git clone -q /tmp/r /tmp/c && cd /tmp/c
echo more > g && git add g && git -c user.name=Claude -c user.email=c@example.com commit -qm second
git push -q origin HEAD:refs/heads/local-push
echo "local: $(git -C /tmp/r log --format=%s local-push | tr '\n' ' ')"
git init -q --bare /tmp/srv/r.git
git -C /tmp/srv/r.git config http.receivepack true
printf '#!/bin/sh\nGIT_PROJECT_ROOT=/tmp/srv GIT_HTTP_EXPORT_ALL=1 exec git http-backend\n' > /tmp/www/cgi-bin/git
chmod +x /tmp/www/cgi-bin/git
busybox httpd -p 127.0.0.1:8080 -h /tmp/www
git remote add web http://127.0.0.1:8080/cgi-bin/git/r.git
git push -q web HEAD:refs/heads/claudette/demo
git fetch -q web
echo "http: $(git ls-remote web | cut -f2)"
git clone -q -b claudette/demo http://127.0.0.1:8080/cgi-bin/git/r.git /tmp/d
echo "clone: $(git -C /tmp/d log --format=%s | tr '\n' ' ')"
test -s /etc/ssl/certs/ca-certificates.crt && echo "ca: ok"
`

func TestContainerRunsTheMachinesGit(t *testing.T) {
	demotest.RequireGit(t)
	cli := dockerClient(t)
	host := hardened()
	host.Tmpfs["/tmp"] = "rw,exec,nosuid,nodev,size=64m" // the CGI script runs from /tmp
	r := startRun(t, cli, spec{cmd: []string{"sh", "-c", gitScript}, host: host})
	_, stdout, stderr, code := r.wait("")
	if code != 0 {
		t.Fatalf("git in the sandbox: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	git, _, err := demo.FindGit(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		git.Version + "\n",
		"## main\n",
		"local: second first \n",
		"http: refs/heads/claudette/demo\n",
		"clone: second first \n",
		"ca: ok\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s\nstderr:\n%s", want, stdout, stderr)
		}
	}
	img, err := cli.ImageInspect(t.Context(), demotest.Image(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := img.Config.Labels[demo.GitLabel]; got != git.Version {
		t.Errorf("label %s = %q, want %q", demo.GitLabel, got, git.Version)
	}
}
