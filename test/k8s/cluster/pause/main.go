// Command pause is the test cluster's sandbox ("pause") image and its DNS
// probe, built here so that no image is pulled. With no arguments it blocks
// until SIGTERM or SIGINT and exits 0, which is all a pod sandbox needs.
// With "lookup NAME" it resolves NAME through the pod's /etc/resolv.conf
// (the pure-Go resolver, as it is built with CGO_ENABLED=0), prints each
// address and exits 0, or exits 1 if NAME does not resolve.
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) == 3 && os.Args[1] == "lookup" {
		os.Exit(lookup(os.Args[2]))
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	<-ctx.Done()
}

// lookup prints the addresses of name, one a line, and returns the exit code.
func lookup(name string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupHost(ctx, name)
	if err != nil {
		fmt.Fprintf(os.Stderr, "lookup %s: %v\n", name, err)
		return 1
	}
	for _, a := range addrs {
		fmt.Println(a)
	}
	return 0
}
