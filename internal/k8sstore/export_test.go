package k8sstore

import (
	"testing"
	"time"
)

// SetTimeout shortens the bound of each API call, for the tests of a
// server that never answers.
func SetTimeout(s *Secret, d time.Duration) { s.timeout = d }

// SetNamespaceFile points DefaultNamespace at another pod namespace file
// for the test.
func SetNamespaceFile(t testing.TB, path string) {
	old := namespaceFile
	namespaceFile = path
	t.Cleanup(func() { namespaceFile = old })
}

// SetSnapshotWindow sets how long a Get's read answers the handle's next
// Gets of other blobs, so that a test does not depend on its speed.
func SetSnapshotWindow(s *Secret, d time.Duration) { s.window = d }
