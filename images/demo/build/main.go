package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/claudette-dev/claudette-runner/images/demo"
	"github.com/moby/moby/client"
)

func main() {
	tag := flag.String("tag", demo.DefaultTag, "image reference to tag the demo image with")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *tag); err != nil {
		fmt.Fprintln(os.Stderr, "demo image:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, tag string) error {
	cli, err := client.New(client.FromEnv)
	if err != nil {
		return fmt.Errorf("docker client: %w", err)
	}
	defer cli.Close()
	git, reason, err := demo.FindGit(ctx)
	if err != nil {
		return err
	}
	if git == nil {
		fmt.Fprintf(os.Stderr, "demo image: WITHOUT GIT: %s; git inside the sandbox (and the demo's push) will not work\n", reason)
	} else {
		fmt.Fprintf(os.Stderr, "demo image: with the machine's %s (%d files: git, git-core, libraries, CA certificates)\n", git.Version, len(git.Paths()))
	}
	id, err := demo.Build(ctx, cli, tag)
	if err != nil {
		return err
	}
	fmt.Printf("%s %s\n", tag, id)
	return nil
}
