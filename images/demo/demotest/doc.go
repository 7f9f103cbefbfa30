// Package demotest gives other packages' tests the demo sandbox image and the
// fake claude binary, built once per test binary and removed when it ends.
//
//	func TestMain(m *testing.M) { demotest.Main(m) }
//
//	img := demotest.Image(t)        // image tag unique to this test binary
//	bin := demotest.AgentBinary(t)  // local path of the fake claude CLI
//
// It owns only the tags and temporary files it creates; its images carry the
// label dev.claudette.test=true. It must not remove images or containers it
// did not create.
package demotest
