package images_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/images"
	"github.com/claudette-dev/claudette-runner/images/demo/demotest"
	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func TestMain(m *testing.M) { demotest.Main(m) }

func newStore(t *testing.T, pull string, allowed ...string) (*images.Store, *client.Client, *observer.ObservedLogs) {
	t.Helper()
	cli, err := client.New(client.FromEnv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	core, logs := observer.New(zap.DebugLevel)
	cfg := config.Defaults()
	cfg.Sandbox.Pull, cfg.Sandbox.AllowedImages = pull, allowed
	s, err := images.New(images.Params{Config: cfg, Logger: zap.New(core), Docker: cli})
	if err != nil {
		t.Fatal(err)
	}
	return s, cli, logs
}

// TestEnsurePresentLocal: what each policy does with an image that is on the
// engine, one that is not, and one that is not allowed, where no registry
// answers.
func TestEnsurePresentLocal(t *testing.T) {
	present := demotest.Image(t)
	missing := "127.0.0.1:1/claudette-test/absent:" + randHex(4) // nothing listens there
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cases := map[string]struct {
		pull    string
		allowed []string
		ref     string
		class   func(error) bool // nil = success
		text    string
	}{
		"never, present":          {pull: "never", ref: present},
		"if-not-present, present": {pull: "if-not-present", ref: present},
		"never, missing": {pull: "never", ref: missing, class: errdefs.IsNotFound,
			text: `is not on the Docker engine and the pull policy is "never"`},
		"if-not-present, missing, no registry": {pull: "if-not-present", ref: missing, class: func(error) bool { return true },
			text: "is its registry reachable? Without a registry, build or load the image on this engine"},
		"always, present, no registry": {pull: "always", ref: present, class: func(error) bool { return true },
			text: `pull policy "always"`},
		"not allowed": {pull: "never", allowed: []string{"claudette/sandbox:*"}, ref: present, class: errdefs.IsPermissionDenied,
			text: "is not allowed by the allowed image patterns [claudette/sandbox:*]"},
		"allowed": {pull: "never", allowed: []string{"claudette-test/*"}, ref: present},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s, _, _ := newStore(t, tc.pull, tc.allowed...)
			err := s.EnsurePresent(ctx, tc.ref)
			switch {
			case tc.class == nil && err != nil:
				t.Errorf("error %v, want none", err)
			case tc.class != nil && (err == nil || !tc.class(err) || !strings.Contains(err.Error(), tc.text)):
				t.Errorf("error %v, want one saying %q", err, tc.text)
			}
		})
	}
}

// TestPullProgress pulls a small image from a registry on localhost (the
// engine treats 127.0.0.0/8 as an insecure registry) and checks the progress
// in the log.
func TestPullProgress(t *testing.T) {
	defer images.SetProgressEvery(50 * time.Millisecond)()
	reg := newRegistry(t, 1<<20)
	ref := reg.host + "/claudette-test/tiny:" + randHex(4)
	s, cli, logs := newStore(t, "if-not-present", reg.host+"/claudette-test/*")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := cli.ImageRemove(ctx, ref, client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil && !errdefs.IsNotFound(err) {
			t.Errorf("remove pulled image: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := s.EnsurePresent(ctx, ref); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Present(ctx, ref); !ok || err != nil {
		t.Fatalf("pulled image not present: %v", err)
	}
	if n := logs.FilterMessage("pulling image").Len(); n != 1 {
		t.Errorf("%d 'pulling image' logs", n)
	}
	done := logs.FilterMessage("image pulled").All()
	if len(done) != 1 || done[0].ContextMap()["bytes_total"].(int64) < 1<<20 || done[0].ContextMap()["layers"].(int64) != 1 ||
		done[0].ContextMap()["bytes_done"] != done[0].ContextMap()["bytes_total"] {
		t.Errorf("'image pulled' logs %v", done)
	}
	if logs.FilterMessage("image pull progress").Len() == 0 {
		t.Errorf("no progress logged during a slow pull")
	}
	// Present now: no second pull.
	manifests := reg.manifestGets.Load()
	if err := s.EnsurePresent(ctx, ref); err != nil || reg.manifestGets.Load() != manifests {
		t.Errorf("second ensure pulled again (%v)", err)
	}
	// An unknown tag on a live registry.
	err := s.EnsurePresent(ctx, reg.host+"/claudette-test/tiny:unknown")
	if err == nil || !strings.Contains(err.Error(), "pull image") {
		t.Errorf("unknown tag: %v", err)
	}
}

// registry is a minimal read-only registry v2 serving one image under any
// name and tag but "unknown", its layer sent slowly.
type registry struct {
	host         string
	manifestGets atomic.Int64
}

func newRegistry(t *testing.T, layerSize int) *registry {
	t.Helper()
	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	content := make([]byte, layerSize)
	_, _ = rand.Read(content)
	_ = tw.WriteHeader(&tar.Header{Name: "data.bin", Mode: 0o644, Size: int64(len(content)), ModTime: time.Unix(0, 0)})
	_, _ = tw.Write(content)
	_ = tw.Close()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(tarBuf.Bytes())
	_ = zw.Close()
	layer := gz.Bytes()
	cfgJSON, _ := json.Marshal(map[string]any{"architecture": "amd64", "os": "linux", "config": map[string]any{},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{digest(tarBuf.Bytes())}}})
	manifest, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
		"config": map[string]any{"mediaType": "application/vnd.docker.container.image.v1+json", "size": len(cfgJSON), "digest": digest(cfgJSON)},
		"layers": []any{map[string]any{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": len(layer), "digest": digest(layer)}}})
	blobs := map[string][]byte{digest(cfgJSON): cfgJSON, digest(layer): layer}
	r := &registry{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
		p := req.URL.Path
		switch {
		case p == "/v2/" || p == "/v2":
			w.Write([]byte("{}"))
		case strings.Contains(p, "/manifests/"):
			if strings.HasSuffix(p, "/unknown") {
				w.WriteHeader(http.StatusNotFound)
				w.Write([]byte(`{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`))
				return
			}
			r.manifestGets.Add(1)
			w.Header().Set("Content-Type", "application/vnd.docker.distribution.manifest.v2+json")
			w.Header().Set("Docker-Content-Digest", digest(manifest))
			w.Header().Set("Content-Length", fmt.Sprint(len(manifest)))
			if req.Method != http.MethodHead {
				w.Write(manifest)
			}
		case strings.Contains(p, "/blobs/"):
			b, ok := blobs[p[strings.LastIndex(p, "/")+1:]]
			if !ok {
				w.WriteHeader(http.StatusNotFound)
				return
			}
			w.Header().Set("Content-Length", fmt.Sprint(len(b)))
			w.Header().Set("Docker-Content-Digest", digest(b))
			if req.Method == http.MethodHead {
				return
			}
			for off := 0; off < len(b); off += 64 << 10 {
				w.Write(b[off:min(off+64<<10, len(b))])
				w.(http.Flusher).Flush()
				time.Sleep(25 * time.Millisecond)
			}
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	r.host = strings.TrimPrefix(srv.URL, "http://")
	return r
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
