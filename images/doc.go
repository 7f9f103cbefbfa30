// Package images decides which sandbox image may run and makes sure it is on
// the Docker engine before a sandbox starts: the pull policy (always,
// if-not-present, never), the allowed image patterns, and the pull itself with
// its progress in the log. It also holds the production sandbox image's
// Dockerfile (images/sandbox) and, under images/demo, the offline test image.
//
// It owns image references and pulls only. It must not create, run or remove
// containers (package sandbox does) and never removes an image it did not pull.
package images
