// Package crashpoint is the fault injection of the crash tests: a named point
// in the runner's durability path (Hit) kills the process with SIGKILL when
// the environment variable CLAUDETTE_TEST_CRASHPOINT names it, exactly as a
// kill -9 or a power cut would at that instant. Unset (always, outside the
// crash tests) every Hit is one comparison and does nothing.
//
// The value is a comma-separated list of names; "name@N" fires at the N-th
// hit of that name (1 by default). The points and their order are written
// down in modules/conversation's doc.go and sync's doc.go.
//
// It must stay a leaf: no imports of the runner's packages, no logging.
package crashpoint
