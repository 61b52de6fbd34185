package k8stest

import "syscall"

// sysProcAttr asks the kernel to kill a server when the test binary dies
// without its cleanup (a panic, `go test -timeout`, a SIGKILL), so that no
// etcd or kube-apiserver outlives it holding ports and memory.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
