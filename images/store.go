package images

import (
	"context"
	"errors"
	"fmt"

	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"go.uber.org/zap"
)

// imageAPI is the part of the Docker engine the store needs.
type imageAPI interface {
	ImageInspect(ctx context.Context, image string, opts ...client.ImageInspectOption) (client.ImageInspectResult, error)
	ImagePull(ctx context.Context, ref string, opts client.ImagePullOptions) (client.ImagePullResponse, error)
}

// Params builds a Store.
type Params struct {
	Config *config.Config
	Logger *zap.Logger
	Docker imageAPI
}

// Store applies the image policy against one Docker engine.
type Store struct {
	log    *zap.Logger
	docker imageAPI
	policy Policy
}

// New returns a Store for the configured pull policy and allowed images.
func New(p Params) (*Store, error) {
	if p.Config == nil || p.Docker == nil {
		return nil, errors.New("images: config and docker client are required")
	}
	policy, err := NewPolicy(p.Config.Sandbox.Pull, p.Config.Sandbox.AllowedImages)
	if err != nil {
		return nil, err
	}
	log := p.Logger
	if log == nil {
		log = zap.NewNop()
	}
	return &Store{log: log, docker: p.Docker, policy: policy}, nil
}

// EnsurePresent makes ref runnable on the engine according to the policy:
// never pulls with "never" (a missing image is an error), pulls when missing
// with "if-not-present", pulls every time with "always". A disallowed image is
// a PermissionDenied-class error, a missing image that cannot be pulled a
// NotFound-class one; both say what the operator can do.
func (s *Store) EnsurePresent(ctx context.Context, ref string) error {
	if err := s.policy.Check(ref); err != nil {
		return err
	}
	if s.policy.Pull != config.PullAlways {
		present, err := s.present(ctx, ref)
		if err != nil {
			return err
		}
		if present {
			return nil
		}
		if s.policy.Pull == config.PullNever {
			return fmt.Errorf("image %s is not on the Docker engine and the pull policy is %q: build or load it first (see images/README.md) or allow pulls with --sandbox-pull if-not-present: %w",
				ref, config.PullNever, errdefs.ErrNotFound)
		}
	}
	return s.pull(ctx, ref)
}

func (s *Store) present(ctx context.Context, ref string) (bool, error) {
	_, err := s.docker.ImageInspect(ctx, ref)
	switch {
	case err == nil:
		return true, nil
	case errdefs.IsNotFound(err):
		return false, nil
	default:
		return false, fmt.Errorf("inspect image %s: %w", ref, err)
	}
}
