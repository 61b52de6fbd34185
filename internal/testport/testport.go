// Package testport hands test servers (Vault, local-kms, etcd,
// kube-apiserver) loopback ports that no other test server of this user
// is given at the same time, and that nothing listened on when picked.
//
// Checking that a port is free is not enough: the server binds it later,
// and in between the same port can be picked again, by this test binary
// or by another one that `go test ./...` runs beside it. Vault does not
// stop when its cluster listener cannot bind: it logs the error, runs on
// and advertises that port as its cluster address. A Raft follower whose
// cluster port had been handed out again as its own API port joined its
// cluster and then received none of its data, because the leader's Raft
// connections reached its HTTP server ("tls: first record does not look
// like a TLS handshake"), and every unseal answered 500.
//
// So every port handed out is reserved with an flock on a file named after
// it, in one directory per user under the system's temporary directory
// (another user's servers are still seen by the check that nothing
// listens), held until the test binary exits. flock locks belong to an
// open file: a second Port in the same process conflicts with the first
// as another process would, and the kernel drops them when the process
// ends, so a killed test leaves nothing held. A set of the ports this
// process holds guards the same, where flock is emulated per process (NFS).
//
// It is imported only by test support packages (vaulttest, k8stest).
package testport

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
)

// The range ports come from: below the kernel's ephemeral range (32768 and
// up), so that no client connection's local end takes a port between its
// pick and the server's bind, or when a server restarts on it.
const (
	first = 20000
	count = 12000
)

var (
	mu    sync.Mutex
	held  = map[int]*os.File{} // the reservations, open until the process exits
	dirOK bool                 // ownDir has passed

	// dir is where the reservation files are (empty, and reused), fixed
	// at the start: a test that sets TMPDIR must not start another pool.
	dir = filepath.Join(os.TempDir(), fmt.Sprintf("vault-init-test-ports-%d", os.Getuid()))
)

// Port returns a loopback port that nothing listened on when it was picked
// and that no other caller of Port, in this process or another, holds. It
// stays reserved until the process exits.
func Port() (int, error) {
	mu.Lock()
	defer mu.Unlock()
	if !dirOK {
		if err := ownDir(); err != nil {
			return 0, err
		}
		dirOK = true // once per process: it does not change under a running test
	}
	for range 200 {
		port := first + rand.IntN(count)
		if held[port] != nil {
			continue
		}
		f, err := reserve(port)
		if err != nil {
			return 0, err
		}
		if f == nil {
			continue // another test server has it
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			f.Close() // something else listens on it: drop the reservation
			continue
		}
		ln.Close()
		held[port] = f
		return port, nil
	}
	return 0, fmt.Errorf("testport: no free loopback port between %d and %d", first, first+count)
}

// ownDir makes the reservations' directory, and checks that it is this
// user's alone: its name is predictable, and another user's directory
// there would fail every reservation or share them.
func ownDir() error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("testport: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("testport: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || !ok || int(st.Uid) != os.Getuid() || fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("testport: %s is not a directory of this user's alone (mode %v): remove it", dir, fi.Mode())
	}
	return nil
}

// reserve takes the port's lock. It returns nil and no error when another
// open file holds it.
func reserve(port int) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(port)), os.O_CREATE|os.O_RDONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("testport: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, nil
		}
		return nil, fmt.Errorf("testport: lock port %d: %w", port, err)
	}
	return f, nil
}
