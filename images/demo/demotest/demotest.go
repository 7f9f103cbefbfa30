package demotest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/claudette-dev/claudette-runner/images/demo"
	"github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// TestLabel marks every image built for tests.
const TestLabel = "dev.claudette.test"

// Repository is the repository of test image tags.
const Repository = "claudette-test/agent"

var (
	imageOnce sync.Once
	imageTag  string
	imageErr  error

	gitOnce   sync.Once
	gitReason string
	gitErr    error

	binOnce sync.Once
	binPath string
	binDir  string
	binErr  error
)

// Main runs the tests, then removes this test binary's image tag (the image
// goes with its last tag) and the compiled agent, and exits.
func Main(m *testing.M) {
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// Image returns a tag of the demo image unique to this test process
// (claudette-test/agent:<package>-<hash>-<pid>), building or re-tagging it on the
// first call. Use with Main, which removes the tag.
func Image(tb testing.TB) string {
	tb.Helper()
	tag, err := Build()
	if err != nil {
		tb.Fatalf("demo image: %v", err)
	}
	return tag
}

// Build is Image for code that has no testing.TB (a TestMain, an example):
// the tag, built or re-tagged on the first call. Use with Main.
func Build() (string, error) {
	imageOnce.Do(func() { imageTag, imageErr = buildImage() })
	if imageErr != nil {
		return "", imageErr
	}
	return imageTag, nil
}

// AgentBinary returns the path of the fake claude CLI compiled for the host,
// for tests that run it as a local process. Use with Main, which removes it.
func AgentBinary(tb testing.TB) string {
	tb.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "claudette-agent-")
		if binErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		binPath = filepath.Join(binDir, "claude")
		binErr = demo.CompileAgent(ctx, binPath)
	})
	if binErr != nil {
		tb.Fatalf("demo agent: %v", binErr)
	}
	return binPath
}

// RequireGit skips the test when the image has no git because the machine
// that builds it has none (the reason says so), and fails it when git is
// there but cannot be collected.
func RequireGit(tb testing.TB) {
	tb.Helper()
	gitOnce.Do(func() {
		var git *demo.GitFiles
		git, gitReason, gitErr = demo.FindGit(context.Background())
		if git != nil {
			gitReason = ""
		}
	})
	if gitErr != nil {
		tb.Fatalf("demo image git: %v", gitErr)
	}
	if gitReason != "" {
		tb.Skipf("the demo image has no git: %s", gitReason)
	}
}

func buildImage() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	hash, err := demo.Hash()
	if err != nil {
		return "", err
	}
	// The pid keeps two runs of one package's tests from removing each other's tag.
	tag := fmt.Sprintf("%s:%s-%s-%d", Repository, binaryName(), hash[:12], os.Getpid())
	cli, err := client.New(client.FromEnv)
	if err != nil {
		return "", fmt.Errorf("docker client: %w", err)
	}
	defer cli.Close()
	// The tag is returned even on failure: a build that failed late may have
	// tagged the image, and cleanup removes it.
	_, err = demo.BuildImage(ctx, cli, tag, demo.Options{Labels: map[string]string{TestLabel: "true"}})
	return tag, err
}

var unsafeTag = regexp.MustCompile(`[^a-z0-9_.-]+`)

// binaryName is the test binary's package name, e.g. "sandbox" for sandbox.test.
func binaryName() string {
	name := strings.TrimSuffix(filepath.Base(os.Args[0]), ".test")
	name = unsafeTag.ReplaceAllString(strings.ToLower(name), "-")
	name = strings.Trim(name, "-.")
	if name == "" {
		name = "test"
	}
	if len(name) > 64 {
		name = name[:64]
	}
	return name
}

func cleanup() {
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	if imageTag == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cli, err := client.New(client.FromEnv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "demotest: docker client: %v\n", err)
		return
	}
	defer cli.Close()
	if _, err := cli.ImageRemove(ctx, imageTag, client.ImageRemoveOptions{PruneChildren: true}); err != nil && !errdefs.IsNotFound(err) {
		fmt.Fprintf(os.Stderr, "demotest: remove image %s: %v\n", imageTag, err)
	}
}
