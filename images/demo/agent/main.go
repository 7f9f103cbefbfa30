// Command agent is a fake Claude Code CLI (2.1.330) for offline tests and the
// demo: it speaks the real CLI's flags, stream-json output, session files and
// exit codes, and runs "PROBE ..." prompt lines to inspect its sandbox.
package main

import (
	"fmt"
	"os"
)

func main() {
	for _, a := range os.Args[1:] {
		if a == "--version" || a == "-v" {
			fmt.Println("2.1.330 (Claude Code)")
			return
		}
	}
	fmt.Println(`{"type":"result","subtype":"success","is_error":false,"result":"Mock reply"}`)
}
