// Package deploy holds how operators run the runner, and its proof: the
// compose file and its .env.example, the systemd unit, and a test that builds
// the runner image and brings the compose stack up on the real engine against
// a fake Electric, a recording orchestrator and a git server on the host. It
// has no code of its own: the image is built by the top-level Dockerfile
// (`make image`), and the Docker-out-of-Docker check lives in package sandbox.
package deploy
