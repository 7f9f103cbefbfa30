// Package demo builds the offline demo and test sandbox image: the fake Claude
// Code CLI in ./agent (installed as /usr/local/bin/claude) on a busybox root
// filesystem with the build machine's git (the CLI, its exec path, the
// libraries ldd lists and the CA certificates, at their own paths), loaded
// into the engine with an image import. Nothing is ever pulled.
//
// Images carry the label dev.claudette.demo.hash, a hash of the agent's source,
// busybox and the git files, so a rebuild of unchanged content re-tags the
// existing image instead of importing again.
//
// The package owns images/demo only. It must not know about the sandbox
// engine's policy (limits, mounts, users at run time): that belongs to
// whoever runs the image.
package demo
