// Command su-exec runs a program as another user: `su-exec USER PROG ARGS...`.
// It stands in for the su-exec of the official hashicorp/vault image inside
// the local stand-in image (test/e2e/standin), where busybox has no
// equivalent. USER is a name from /etc/passwd or uid[:gid].
package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"syscall"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: su-exec USER PROG [ARGS...]")
		os.Exit(2)
	}
	uid, gid, err := lookup(os.Args[1])
	if err == nil {
		err = syscall.Setgroups([]int{gid})
	}
	if err == nil {
		err = syscall.Setgid(gid)
	}
	if err == nil {
		err = syscall.Setuid(uid)
	}
	prog := os.Args[2]
	if err == nil && !strings.Contains(prog, "/") {
		prog, err = exec.LookPath(prog)
	}
	if err == nil {
		err = syscall.Exec(prog, os.Args[2:], os.Environ())
	}
	fmt.Fprintf(os.Stderr, "su-exec: %v\n", err)
	os.Exit(1)
}

func lookup(spec string) (int, int, error) {
	name, group, _ := strings.Cut(spec, ":")
	if uid, err := strconv.Atoi(name); err == nil {
		gid := uid
		if group != "" {
			if gid, err = strconv.Atoi(group); err != nil {
				return 0, 0, fmt.Errorf("bad gid %q", group)
			}
		}
		return uid, gid, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return 0, 0, err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return uid, gid, nil
}
