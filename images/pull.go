package images

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"go.uber.org/zap"
)

// progressEvery is how often a running pull reports its bytes in the log.
var progressEvery = 2 * time.Second

// pull pulls ref, logging progress: each layer's steps at debug, the bytes
// downloaded of all layers together every progressEvery, and the outcome at
// info.
func (s *Store) pull(ctx context.Context, ref string) error {
	started := time.Now()
	s.log.Info("pulling image", zap.String("image", ref), zap.String("pull_policy", s.policy.Pull))
	resp, err := s.docker.ImagePull(ctx, ref, client.ImagePullOptions{})
	if err != nil {
		return pullError(ref, s.policy.Pull, err)
	}
	defer resp.Close()

	layers := map[string]layerProgress{}
	lastReport := time.Now()
	var final string
	for msg, err := range resp.JSONMessages(ctx) {
		if err != nil {
			return pullError(ref, s.policy.Pull, err)
		}
		if msg.Error != nil {
			return pullError(ref, s.policy.Pull, fmt.Errorf("%s: %w", msg.Error.Message, errdefs.ErrUnavailable))
		}
		if msg.ID == "" || strings.HasPrefix(msg.Status, "Pulling from ") {
			if msg.Status != "" {
				final = msg.Status
			}
			continue
		}
		lp := layers[msg.ID]
		switch {
		case msg.Status == "Downloading" && msg.Progress != nil && msg.Progress.Total > 0:
			lp.current, lp.total = msg.Progress.Current, msg.Progress.Total
		case msg.Status == "Download complete" || msg.Status == "Pull complete" || msg.Status == "Already exists":
			lp.current = lp.total
		}
		if lp.status != msg.Status {
			lp.status = msg.Status
			s.log.Debug("image layer", zap.String("image", ref), zap.String("layer", msg.ID), zap.String("status", msg.Status))
		}
		layers[msg.ID] = lp
		if time.Since(lastReport) >= progressEvery {
			lastReport = time.Now()
			cur, total := sumProgress(layers)
			s.log.Info("image pull progress", zap.String("image", ref), zap.Int("layers", len(layers)),
				zap.Int64("bytes_done", cur), zap.Int64("bytes_total", total))
		}
	}
	cur, total := sumProgress(layers)
	s.log.Info("image pulled", zap.String("image", ref), zap.String("status", final),
		zap.Int("layers", len(layers)), zap.Int64("bytes_done", cur), zap.Int64("bytes_total", total),
		zap.Duration("took", time.Since(started)))
	return nil
}

type layerProgress struct {
	status         string
	current, total int64
}

func sumProgress(layers map[string]layerProgress) (cur, total int64) {
	for _, l := range layers {
		cur += l.current
		total += l.total
	}
	return cur, total
}

func pullError(ref, policy string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("pull image %s: %w", ref, err)
	}
	return fmt.Errorf("pull image %s (pull policy %q) failed; is its registry reachable? Without a registry, build or load the image on this engine (see images/README.md) and use --sandbox-pull never: %w",
		ref, policy, err)
}
