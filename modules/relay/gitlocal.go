package relay

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/format/pktline"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/server"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// localGit serves smart HTTP from a repository on this machine (exec
// --repo PATH) with go-git's server side: no git process, no hook, no
// config of the repository is run.
type localGit struct {
	gitDir string // the repository's git dir (PATH/.git, or PATH when bare)
	branch string // the branch a non-bare repository has checked out, "" when bare
}

func newLocalGit(path string) (*localGit, error) {
	l := &localGit{gitDir: path}
	if fi, err := os.Stat(filepath.Join(path, ".git")); err == nil {
		if !fi.IsDir() {
			return nil, fmt.Errorf("git relay: %s/.git is not a directory (worktrees and linked git dirs are not served)", path)
		}
		l.gitDir = filepath.Join(path, ".git")
	}
	if _, err := os.Stat(filepath.Join(l.gitDir, "config")); err != nil {
		return nil, fmt.Errorf("git relay: %s is not a git repository", path)
	}
	if l.gitDir != path { // the branch checked out in the person's working tree is never moved under it
		if head, err := os.ReadFile(filepath.Join(l.gitDir, "HEAD")); err == nil {
			l.branch = strings.TrimSpace(strings.TrimPrefix(string(head), "ref:"))
		}
	}
	return l, nil
}

func (l *localGit) storer() storer.Storer {
	return filesystem.NewStorageWithOptions(osfs.New(l.gitDir), cache.NewObjectLRUDefault(), filesystem.Options{KeepDescriptors: false})
}

func (l *localGit) serve(w *gitResponse, req *gitRequest) error {
	srv := server.NewServer(storerLoader{l.storer()})
	ep := &transport.Endpoint{Protocol: "file", Path: l.gitDir}
	if req.advertise {
		return l.advertise(w, req, srv, ep)
	}
	if req.service == serviceUpload {
		return l.uploadPack(w, req, srv, ep)
	}
	return l.receivePack(w, req, srv, ep)
}

func (l *localGit) advertise(w *gitResponse, req *gitRequest, srv transport.Transport, ep *transport.Endpoint) error {
	var ar *packp.AdvRefs
	if req.service == serviceUpload {
		s, err := srv.NewUploadPackSession(ep, nil)
		if err != nil {
			return err
		}
		if ar, err = s.AdvertisedReferencesContext(req.ctx); err != nil {
			return err
		}
	} else {
		s, err := srv.NewReceivePackSession(ep, nil)
		if err != nil {
			return err
		}
		if ar, err = s.AdvertisedReferencesContext(req.ctx); err != nil {
			return err
		}
		// A thin pack refers to objects it does not hold; stored as it
		// comes, git could not read it. Ask for whole packs.
		_ = ar.Capabilities.Add("no-thin")
	}
	ar.Prefix = [][]byte{[]byte("# service=" + req.service), pktline.Flush}
	w.Header().Set("Content-Type", "application/x-"+req.service+"-advertisement")
	w.Header().Set("Cache-Control", "no-cache")
	return ar.Encode(w)
}

func (l *localGit) uploadPack(w *gitResponse, req *gitRequest, srv transport.Transport, ep *transport.Endpoint) error {
	body, err := decodedBody(req)
	if err != nil {
		return err
	}
	up := packp.NewUploadPackRequest()
	if err := up.Decode(body); err != nil {
		return fmt.Errorf("upload-pack request: %w", err)
	}
	s, err := srv.NewUploadPackSession(ep, nil)
	if err != nil {
		return err
	}
	resp, err := s.UploadPack(req.ctx, up)
	if err != nil {
		return fmt.Errorf("upload-pack: %w", err)
	}
	w.Header().Set("Content-Type", "application/x-"+serviceUpload+"-result")
	w.Header().Set("Cache-Control", "no-cache")
	return resp.Encode(w)
}

func (l *localGit) receivePack(w *gitResponse, req *gitRequest, srv transport.Transport, ep *transport.Endpoint) error {
	br := bufio.NewReaderSize(req.body, 64<<10)
	p, err := readPushRequest(br)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-"+serviceReceive+"-result")
	w.Header().Set("Cache-Control", "no-cache")
	if len(p.Commands) == 0 { // git's probe before a large push
		w.WriteHeader(http.StatusOK)
		return nil
	}
	sto := l.storer()
	// go-git updates a ref whatever it points at now: check what the client
	// saw, as git's receive-pack does, and never move the checked-out branch.
	for _, c := range p.Commands {
		reason := ""
		cur, err := sto.Reference(plumbing.ReferenceName(c.Ref))
		switch {
		case c.Ref == l.branch:
			reason = "branch is checked out in the repository's working tree"
		case errors.Is(err, plumbing.ErrReferenceNotFound):
			if !isZeroID(c.Old) {
				reason = "stale info"
			}
		case err != nil:
			return err
		case cur.Hash().String() != c.Old:
			reason = "stale info"
		}
		if reason != "" {
			_, _ = io.Copy(io.Discard, br)
			_, err := w.Write(refusalReport(p, repeat(reason, len(p.Commands))))
			return err
		}
	}
	ur := packp.NewReferenceUpdateRequest()
	for _, c := range p.Caps {
		name, value, _ := strings.Cut(c, "=")
		if value != "" {
			_ = ur.Capabilities.Add(capability.Capability(name), value)
		} else {
			_ = ur.Capabilities.Add(capability.Capability(name))
		}
	}
	for _, c := range p.Commands {
		ur.Commands = append(ur.Commands, &packp.Command{Name: plumbing.ReferenceName(c.Ref), Old: plumbing.NewHash(c.Old), New: plumbing.NewHash(c.New)})
	}
	if _, err := br.Peek(1); err == nil {
		ur.Packfile = io.NopCloser(br)
	}
	s, err := srv.NewReceivePackSession(ep, nil)
	if err != nil {
		return err
	}
	rs, err := s.ReceivePack(req.ctx, ur)
	if req.over != nil && req.over() {
		return errPushTooLarge
	}
	if rs == nil {
		if err == nil {
			err = errors.New("no report")
		}
		return fmt.Errorf("receive-pack: %w", err)
	}
	// rs says what failed (unpack or a ref); git prints it.
	return rs.Encode(w)
}

// storerLoader loads the one repository whatever the endpoint says.
type storerLoader struct{ s storer.Storer }

func (l storerLoader) Load(*transport.Endpoint) (storer.Storer, error) { return l.s, nil }

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// decodedBody is a request body, gzip decoded when it says so.
func decodedBody(req *gitRequest) (io.Reader, error) {
	if enc := req.header.Get("Content-Encoding"); enc == "gzip" || enc == "x-gzip" {
		return gzipReader(req.body)
	}
	return req.body, nil
}
