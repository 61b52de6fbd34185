package keystore_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/keystore/storetest"
)

// The data dir passes the Store conformance suite.
func TestFileConformance(t *testing.T) {
	storetest.Run(t, storetest.Backend{
		Fresh: func(t *testing.T) func() keystore.Store {
			dir := filepath.Join(t.TempDir(), "keys")
			return func() keystore.Store { return keystore.New(dir) }
		},
		// A keystore file replaced by a directory: it exists, and no read
		// works (root ignores permission bits, and CI runs as root).
		Break: func(t *testing.T, open func() keystore.Store, name string) {
			path := open().Where(name)
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
		},
	})
}
