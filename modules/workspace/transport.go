package workspace

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing/transport/client"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
)

// errRedirectHost is a redirect the runner's git refuses: it leaves the
// repository's scheme, host or port.
var errRedirectHost = errors.New("redirect to another host refused")

var installTransport = sync.OnceFunc(func() {
	c := githttp.NewClient(&http.Client{Transport: http.DefaultTransport, CheckRedirect: sameOrigin})
	client.InstallProtocol("http", c)
	client.InstallProtocol("https", c)
})

// sameOrigin lets the runner's own clone, fetch and push (go-git, process
// wide) follow a redirect only within the repository's scheme, host and
// port: a repository URL must not send the runner, with or without its
// credential, to another address (an internal service, say).
func sameOrigin(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	first := via[0].URL
	if !strings.EqualFold(req.URL.Scheme, first.Scheme) || !strings.EqualFold(req.URL.Host, first.Host) {
		return fmt.Errorf("%w: %s://%s to %s://%s", errRedirectHost, first.Scheme, first.Host, req.URL.Scheme, req.URL.Host)
	}
	return nil
}
