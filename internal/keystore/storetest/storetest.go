// Package storetest is the conformance suite of keystore.Store: every
// backend (the data dir, a Kubernetes Secret) must pass Run. It checks the
// contract written on keystore.Store, and the keystore built on it
// (keystore.Keys), with and without the age layer.
package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/aurora/vault-init/internal/keystore"
)

// Backend describes the store under test.
type Backend struct {
	// Fresh makes a new, empty store and returns a function that opens a
	// handle on it. Handles stand for separate processes: each has its own
	// lock file descriptor, client or cache.
	Fresh func(t *testing.T) (open func() keystore.Store)
	// Break, when set, makes the blob name of the store unreadable (it
	// still exists): a permission or format fault of the backend's own.
	Break func(t *testing.T, open func() keystore.Store, name string)
	// ClaimKept says that a claim released after a sys/init was sent
	// stays, for every handle (a Kubernetes Secret's). Otherwise any
	// release ends the claim (a data dir's flock).
	ClaimKept bool
	// LockIsCAS says that Lock excludes only the goroutines of one handle,
	// because Put is a compare-and-swap between handles; otherwise Lock
	// excludes the other handles too.
	LockIsCAS bool
}

// Run runs the conformance suite against b.
func Run(t *testing.T, b Backend) {
	t.Run("missing blob is not found", func(t *testing.T) { missing(t, b) })
	t.Run("put get delete", func(t *testing.T) { putGetDelete(t, b) })
	t.Run("handles see each other's writes", func(t *testing.T) { shared(t, b) })
	t.Run("concurrent puts never mix", func(t *testing.T) { concurrentPuts(t, b) })
	t.Run("where names without content", func(t *testing.T) { where(t, b) })
	t.Run("keys round trip", func(t *testing.T) { keysRoundTrip(t, b) })
	t.Run("garbled keystore is not not-found", func(t *testing.T) { garbled(t, b) })
	t.Run("age layer", func(t *testing.T) { ageLayer(t, b) })
	t.Run("claim excludes other handles", func(t *testing.T) { claim(t, b) })
	t.Run("one claim among racers", func(t *testing.T) { claimRace(t, b) })
	t.Run("lock", func(t *testing.T) { lock(t, b) })
	if b.Break != nil {
		t.Run("unreadable is not not-found", func(t *testing.T) { unreadable(t, b) })
	}
}

func missing(t *testing.T, b Backend) {
	s := b.Fresh(t)()
	if _, err := s.Get(keystore.FileName); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("Get on an empty store = %v, want ErrNotFound", err)
	}
	if _, err := keystore.NewKeys(s).Load(); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("Load on an empty store = %v, want ErrNotFound", err)
	}
	if err := s.Delete(keystore.FileName); err != nil {
		t.Fatalf("Delete of an absent blob = %v, want nil", err)
	}
	if err := s.Probe(); err != nil {
		t.Fatalf("Probe = %v", err)
	}
}

func putGetDelete(t *testing.T, b Backend) {
	s := b.Fresh(t)()
	for _, v := range [][]byte{[]byte("one\n"), []byte("two, longer than one\n"), []byte("3")} {
		if err := s.Put(keystore.AppTokenFileName, v); err != nil {
			t.Fatalf("Put: %v", err)
		}
		got, err := s.Get(keystore.AppTokenFileName)
		if err != nil || !bytes.Equal(got, v) {
			t.Fatalf("Get = %q, %v; want %q", got, err, v)
		}
	}
	if err := s.Put(keystore.FileName, []byte("{}")); err != nil {
		t.Fatalf("Put a second blob: %v", err)
	}
	if err := s.Delete(keystore.AppTokenFileName); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Get(keystore.AppTokenFileName); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("Get after Delete = %v, want ErrNotFound", err)
	}
	if got, err := s.Get(keystore.FileName); err != nil || string(got) != "{}" {
		t.Fatalf("the other blob after Delete = %q, %v", got, err)
	}
}

func shared(t *testing.T, b Backend) {
	open := b.Fresh(t)
	a, c := open(), open()
	if err := a.Put(keystore.AppTokenFileName, []byte("from a")); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Get(keystore.AppTokenFileName); err != nil || string(got) != "from a" {
		t.Fatalf("second handle reads %q, %v", got, err)
	}
	if err := c.Put(keystore.AppTokenFileName, []byte("from c")); err != nil {
		t.Fatalf("second handle's Put after the first one's: %v", err)
	}
	if got, err := a.Get(keystore.AppTokenFileName); err != nil || string(got) != "from c" {
		t.Fatalf("first handle reads %q, %v", got, err)
	}
}

// concurrentPuts: writers on several handles; every read sees one whole
// value, and at the end the blob holds one of them. A Put may fail with a
// conflict on a compare-and-swap store, never leave a mix.
func concurrentPuts(t *testing.T, b Backend) {
	open := b.Fresh(t)
	values := map[string]bool{}
	for i := range 4 {
		values[strings.Repeat(fmt.Sprintf("writer %d ", i), 50+i*30)] = true
	}
	var wg sync.WaitGroup
	errc := make(chan error, 100)
	for v := range values {
		s := open()
		wg.Go(func() {
			for range 3 {
				_ = s.Put(keystore.AppTokenFileName, []byte(v))
				if got, err := s.Get(keystore.AppTokenFileName); err == nil && !values[string(got)] {
					errc <- fmt.Errorf("read a value nobody wrote (%d bytes)", len(got))
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	got, err := open().Get(keystore.AppTokenFileName)
	if err != nil || !values[string(got)] {
		t.Fatalf("after the writers: %d bytes, %v; want one whole value", len(got), err)
	}
}

func where(t *testing.T, b Backend) {
	s := b.Fresh(t)()
	if err := s.Put(keystore.AppTokenFileName, []byte("s.secretvalue")); err != nil {
		t.Fatal(err)
	}
	w := s.Where(keystore.AppTokenFileName)
	if !strings.Contains(w, keystore.AppTokenFileName) || strings.Contains(w, "secretvalue") {
		t.Fatalf("Where = %q: want the blob's name and no content", w)
	}
}
