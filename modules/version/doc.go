// Package version holds the build's version, set by the linker:
// -X github.com/claudette-dev/claudette-runner/modules/version.Version=v1.2.3 (and Commit, Date).
// It must not depend on anything.
package version
