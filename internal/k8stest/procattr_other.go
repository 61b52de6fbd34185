//go:build !linux

package k8stest

import "syscall"

// sysProcAttr: only Linux has a parent-death signal; elsewhere the cleanup
// alone stops the servers.
func sysProcAttr() *syscall.SysProcAttr { return nil }
