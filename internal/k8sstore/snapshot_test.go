package k8sstore_test

import (
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"filippo.io/age"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/aurora/vault-init/internal/k8sstore"
	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/keystore/storetest"
)

// A peer's age migration (put init.json.age, then remove init.json) that
// lands between the two reads of a Load (init.json.age, then init.json)
// must not make Load see neither and report "no keystore". The migration
// runs, deterministically, right after the API server answered the Load's
// first read.
func TestLoadDuringPeerMigration(t *testing.T) {
	e := newEnv(t)
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	withAge := func(s *k8sstore.Secret) *keystore.Keys {
		return keystore.NewKeys(s).WithAge([]age.Recipient{id.Recipient()}, []age.Identity{id})
	}
	d := storetest.Sample()
	if err := keystore.NewKeys(e.open()).Save(d); err != nil {
		t.Fatal(err)
	}
	peer := withAge(e.open())

	var armed atomic.Bool
	var migrated error
	cfg := e.s.AdminConfig()
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTripper(func(req *http.Request) (*http.Response, error) {
			resp, err := rt.RoundTrip(req)
			if req.Method == http.MethodGet && armed.CompareAndSwap(true, false) {
				_, migrated = peer.Migrate()
			}
			return resp, err
		})
	}
	s := e.openAs(cfg, secretName)
	k8sstore.SetSnapshotWindow(s, time.Hour) // however slow the migration: no timing in the test
	armed.Store(true)
	got, err := withAge(s).Load()
	if migrated != nil {
		t.Fatalf("the peer's migration: %v", migrated)
	}
	if sec := e.get(); sec.Data[keystore.FileName] != nil || sec.Data[keystore.AgeFileName] == nil {
		t.Fatalf("the migration did not happen during the Load: data keys %v", sec.Data)
	}
	if err != nil || !got.Equal(d) {
		t.Fatalf("Load during a peer's migration = %v, %v; want the keys", got, err)
	}
	// A later Load reads the encrypted keystore.
	if got, err := withAge(s).Load(); err != nil || !got.Equal(d) {
		t.Fatalf("Load after the migration = %v, %v", got, err)
	}
}

// The bounds of the snapshot: a Get of another blob within the window
// answers from the read of the Get before it, once per blob; a second Get
// of a blob (a poll) reads the Secret again, and so does every Get after a
// write of the handle (even a refused one), or past the window. A write
// through a stale answer is refused, as any stale write is.
func TestSnapshotBounds(t *testing.T) {
	e := newEnv(t)
	e.create(managed, map[string][]byte{"a": []byte("1"), "b": []byte("1")})
	s := e.open()
	k8sstore.SetSnapshotWindow(s, time.Hour)
	set := func(k, v string) {
		t.Helper()
		sec := e.get()
		sec.Data[k] = []byte(v)
		if _, err := e.admin.Update(t.Context(), sec, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	get := func(k, want string) {
		t.Helper()
		if v, err := s.Get(k); err != nil || string(v) != want {
			t.Fatalf("Get(%s) = %q, %v; want %q", k, v, err, want)
		}
	}
	get("a", "1")
	set("a", "2")
	get("a", "2") // the same blob: read again
	set("b", "2")
	get("b", "1") // another blob: the read of Get("a")
	set("b", "3")
	get("b", "3") // b again: read again
	get("a", "2") // the read of Get("b")

	set("a", "4")
	get("b", "3") // the snapshot of the last read has answered b: read
	get("a", "4") // and a from that read
	set("b", "5")
	get("a", "4") // read
	get("b", "5") // answers b from that read
	set("b", "6")
	if err := s.Put("b", []byte("7")); !errors.Is(err, k8sstore.ErrConflict) {
		t.Fatalf("Put of b after reading b=5 (b is 6) = %v, want ErrConflict", err)
	}
	set("a", "7")
	get("b", "6") // after a write of the handle, even a refused one: read
	get("a", "7")
	if err := s.Put("b", []byte("8")); err != nil {
		t.Fatal(err)
	}
	set("a", "9")
	get("a", "9") // the first read after a write
	k8sstore.SetSnapshotWindow(s, 0)
	set("b", "10")
	get("b", "10") // window 0: always read
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }
