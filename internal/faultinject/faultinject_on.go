//go:build faultinject

package faultinject

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"
)

// Point acts when VAULT_INIT_FAULT is "NAME:ACTION" for this name:
//
//	kill   SIGKILL the process, as a crash would
//	term   send SIGTERM to the process, and go on
//	pause  wait until the file named by VAULT_INIT_FAULT_RESUME exists
//
// It first writes "FAULTINJECT NAME ACTION <unix nanos>" to stderr, so that a
// test can see where the program stands and when it got there.
func Point(name string) {
	spec := os.Getenv("VAULT_INIT_FAULT")
	point, action, _ := strings.Cut(spec, ":")
	if point != name {
		return
	}
	fmt.Fprintf(os.Stderr, "FAULTINJECT %s %s %d\n", name, action, time.Now().UnixNano())
	switch action {
	case "kill":
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	case "term":
		syscall.Kill(os.Getpid(), syscall.SIGTERM)
	case "pause":
		resume := os.Getenv("VAULT_INIT_FAULT_RESUME")
		for {
			if _, err := os.Stat(resume); err == nil {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}
