// Command build builds the offline demo sandbox image (the fake claude CLI on
// busybox) into the local Docker engine, for `make demo-image`:
//
//	go run ./images/demo/build [-tag claudette/sandbox-demo:latest]
//
// It prints "<tag> <image id>". It owns nothing but that tag.
package main
