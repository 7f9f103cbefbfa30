package demo_test

import (
	"context"
	"testing"

	"github.com/claudette-dev/claudette-runner/images/demo"
	"github.com/claudette-dev/claudette-runner/images/demo/demotest"
	"github.com/moby/moby/client"
)

func TestBuildImageReusesByHashAndLabels(t *testing.T) {
	cli := dockerClient(t)
	ctx := t.Context()
	shared := demotest.Image(t)
	sharedImg, err := cli.ImageInspect(ctx, shared)
	if err != nil {
		t.Fatal(err)
	}

	labels := map[string]string{demotest.TestLabel: "true", "dev.claudette.test.case": "build"}
	build := func(tag string) string {
		t.Helper()
		t.Cleanup(func() {
			_, _ = cli.ImageRemove(context.Background(), tag, client.ImageRemoveOptions{PruneChildren: true})
		})
		id, err := demo.BuildImage(ctx, cli, tag, demo.Options{Labels: labels})
		if err != nil {
			t.Fatalf("build %s: %v", tag, err)
		}
		return id
	}
	first := build("claudette-test/agent:demo-build-first")
	if first == sharedImg.ID {
		t.Fatal("an image with other project labels was reused")
	}
	second := build("claudette-test/agent:demo-build-second")
	if second != first {
		t.Fatalf("rebuild of the same content imported again: %s != %s", second, first)
	}

	img, err := cli.ImageInspect(ctx, "claudette-test/agent:demo-build-second")
	if err != nil {
		t.Fatal(err)
	}
	hash, err := demo.Hash()
	if err != nil {
		t.Fatal(err)
	}
	cfg := img.Config
	if cfg.Labels[demo.HashLabel] != hash || cfg.Labels["dev.claudette.test.case"] != "build" {
		t.Fatalf("labels %v", cfg.Labels)
	}
	if cfg.User != "1000:1000" || cfg.WorkingDir != "/workspace" || len(cfg.Entrypoint) != 0 {
		t.Fatalf("config user %q workdir %q entrypoint %v", cfg.User, cfg.WorkingDir, cfg.Entrypoint)
	}
}
