package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// DefaultTag is the tag `make demo-image` gives the demo image.
const DefaultTag = "claudette/sandbox-demo:latest"

// HashLabel holds the content hash (see Hash) on every image this package builds.
const HashLabel = "dev.claudette.demo.hash"

// GitLabel holds the `git --version` the image carries, or "none" when the
// machine that built it had no git.
const GitLabel = "dev.claudette.demo.git"

// Options tune BuildImage.
type Options struct {
	// Labels are extra image labels; an existing image is reused only when
	// it carries all of them as well as the content hash.
	Labels map[string]string
}

// Build builds (or re-tags) the demo image as ref (DefaultTag when empty) and
// returns its image ID.
func Build(ctx context.Context, cli *client.Client, ref string) (string, error) {
	return BuildImage(ctx, cli, ref, Options{})
}

// BuildImage is Build with options. When an image with the same content hash
// and labels exists it is tagged ref and nothing is imported. Whatever image
// ref pointed at before is removed if that left it untagged and unused.
func BuildImage(ctx context.Context, cli *client.Client, ref string, opts Options) (string, error) {
	if ref == "" {
		ref = DefaultTag
	}
	git, _, err := FindGit(ctx)
	if err != nil {
		return "", err
	}
	hash, err := hashWith(git)
	if err != nil {
		return "", err
	}
	labels := map[string]string{HashLabel: hash, GitLabel: "none"}
	if git != nil {
		labels[GitLabel] = git.Version
	}
	maps.Copy(labels, opts.Labels)
	previous := imageID(ctx, cli, ref)

	id, err := findImage(ctx, cli, labels)
	if err != nil {
		return "", err
	}
	if id != "" {
		_, err := cli.ImageTag(ctx, client.ImageTagOptions{Source: id, Target: ref})
		switch {
		case err == nil:
			dropPrevious(ctx, cli, previous, id)
			return id, nil
		case !errdefs.IsNotFound(err):
			return "", fmt.Errorf("tag image %s as %s: %w", id, ref, err)
		}
		// Removed meanwhile by another test binary: import our own.
	}

	id, err = importImage(ctx, cli, ref, labels, git)
	if err != nil {
		return "", err
	}
	dropPrevious(ctx, cli, previous, id)
	return id, nil
}

// labelNamespace prefixes the labels this project puts on images.
const labelNamespace = "dev.claudette."

// sameOwnLabels reports whether have carries exactly the project's labels in
// want: a test image is never reused as the demo image, nor the reverse.
func sameOwnLabels(have, want map[string]string) bool {
	for k, v := range have {
		if strings.HasPrefix(k, labelNamespace) && want[k] != v {
			return false
		}
	}
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// findImage returns the newest image carrying exactly the project labels
// given (see sameOwnLabels), or "".
func findImage(ctx context.Context, cli *client.Client, labels map[string]string) (string, error) {
	filters := client.Filters{}
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		filters.Add("label", k+"="+labels[k])
	}
	res, err := cli.ImageList(ctx, client.ImageListOptions{Filters: filters})
	if err != nil {
		return "", fmt.Errorf("list demo images: %w", err)
	}
	var id string
	var created int64
	for _, img := range res.Items {
		if !sameOwnLabels(img.Labels, labels) {
			continue
		}
		if id == "" || img.Created > created {
			id, created = img.ID, img.Created
		}
	}
	return id, nil
}

func importImage(ctx context.Context, cli *client.Client, ref string, labels map[string]string, git *GitFiles) (string, error) {
	tmp, err := os.MkdirTemp("", "claudette-demo-")
	if err != nil {
		return "", fmt.Errorf("build demo image: %w", err)
	}
	defer os.RemoveAll(tmp)
	agent := filepath.Join(tmp, "claude")
	if err := CompileAgent(ctx, agent); err != nil {
		return "", err
	}

	changes := []string{
		"USER 1000:1000",
		"WORKDIR /workspace",
		"ENV PATH=/usr/local/bin:/usr/bin:/bin",
		"ENV HOME=/home/claude",
		`CMD ["claude", "--help"]`,
	}
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		changes = append(changes, fmt.Sprintf("LABEL %s=%q", k, labels[k]))
	}

	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeRootfs(pw, agent, git)) }()
	defer pr.Close()
	res, err := cli.ImageImport(ctx, client.ImageImportSource{Source: pr, SourceName: "-"}, ref,
		client.ImageImportOptions{Changes: changes, Message: "claudette demo sandbox (fake claude CLI)"})
	if err != nil {
		return "", fmt.Errorf("import demo image %s: %w", ref, err)
	}
	defer res.Close()
	if err := readProgress(res); err != nil {
		return "", fmt.Errorf("import demo image %s: %w", ref, err)
	}
	id := imageID(ctx, cli, ref)
	if id == "" {
		return "", fmt.Errorf("import demo image %s: image missing after import", ref)
	}
	return id, nil
}

// readProgress drains the engine's JSON progress stream and returns the
// first error it reports.
func readProgress(r io.Reader) error {
	dec := json.NewDecoder(r)
	for {
		var msg struct {
			Error       string `json:"error"`
			ErrorDetail *struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&msg); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("read progress: %w", err)
		}
		if msg.ErrorDetail != nil && msg.ErrorDetail.Message != "" {
			return errors.New(msg.ErrorDetail.Message)
		}
		if msg.Error != "" {
			return errors.New(msg.Error)
		}
	}
}

// imageID returns the ID ref resolves to, or "" when it does not exist.
func imageID(ctx context.Context, cli *client.Client, ref string) string {
	res, err := cli.ImageInspect(ctx, ref)
	if err != nil {
		return ""
	}
	return res.ID
}

// dropPrevious removes the image ref pointed at before a rebuild, if that
// image is now untagged and unused (the engine refuses otherwise).
func dropPrevious(ctx context.Context, cli *client.Client, previous, current string) {
	if previous == "" || previous == current {
		return
	}
	_, _ = cli.ImageRemove(ctx, previous, client.ImageRemoveOptions{PruneChildren: true})
}
