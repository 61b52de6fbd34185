package k8sstore_test

import (
	"errors"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/aurora/vault-init/internal/k8sstore"
	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/keystore/storetest"
)

// The Secret vault-init creates: Opaque, both labels, no owner reference
// (garbage collection must never take the keys), the blobs as data keys.
func TestCreatedSecret(t *testing.T) {
	e := newEnv(t)
	if err := keystore.NewKeys(e.open()).Save(storetest.Sample()); err != nil {
		t.Fatal(err)
	}
	sec := e.get()
	if sec.Type != "Opaque" || sec.Labels[k8sstore.LabelManagedBy] != "vault-init" || sec.Labels[k8sstore.LabelName] != "vault-init" {
		t.Errorf("secret type %q, labels %v", sec.Type, sec.Labels)
	}
	if len(sec.OwnerReferences) != 0 || len(sec.Finalizers) != 0 {
		t.Errorf("secret has owner references %v, finalizers %v", sec.OwnerReferences, sec.Finalizers)
	}
	if got := slices.Sorted(maps.Keys(sec.Data)); !slices.Equal(got, []string{keystore.FileName}) {
		t.Errorf("secret data keys %v, want [init.json]", got)
	}
	if w := e.open().Where(keystore.FileName); w != "secret "+e.ns+"/vault-init key init.json" {
		t.Errorf("Where = %q", w)
	}
}

// A handle whose last read of a blob is stale is refused, and the other
// writer's bytes stay; a read makes its next write go through.
func TestStaleWriteRefused(t *testing.T) {
	e := newEnv(t)
	a, b := e.open(), e.open()
	if err := a.Put(keystore.AppTokenFileName, []byte("one")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(keystore.AppTokenFileName); err != nil {
		t.Fatal(err)
	}
	if err := a.Put(keystore.AppTokenFileName, []byte("two")); err != nil {
		t.Fatal(err)
	}
	for op, f := range map[string]func() error{
		"Put":    func() error { return b.Put(keystore.AppTokenFileName, []byte("three")) },
		"Delete": func() error { return b.Delete(keystore.AppTokenFileName) },
	} {
		if err := f(); !errors.Is(err, k8sstore.ErrConflict) {
			t.Errorf("stale %s = %v, want ErrConflict", op, err)
		}
		if got := e.get().Data[keystore.AppTokenFileName]; string(got) != "two" {
			t.Fatalf("after the stale %s the blob holds %q, want %q", op, got, "two")
		}
	}
	// Writing the bytes that are there is no conflict: a save retried after
	// a lost reply succeeds.
	if err := b.Put(keystore.AppTokenFileName, []byte("two")); err != nil {
		t.Errorf("Put of the current bytes = %v, want nil", err)
	}
	if err := b.Put(keystore.AppTokenFileName, []byte("three")); err != nil {
		t.Errorf("Put after seeing the current bytes = %v, want nil", err)
	}
}

// Keys.Update from two handles that both loaded the same keystore: one
// saves, the other gets ErrConflict, and no change is lost silently.
func TestConcurrentUpdatesOneWins(t *testing.T) {
	e := newEnv(t)
	if err := keystore.NewKeys(e.open()).Save(storetest.Sample()); err != nil {
		t.Fatal(err)
	}
	const n = 4
	handles := make([]*keystore.Keys, n)
	loaded := make([]*keystore.InitData, n)
	for i := range handles {
		handles[i] = keystore.NewKeys(e.open())
		d, err := handles[i].Load()
		if err != nil {
			t.Fatal(err)
		}
		loaded[i] = d
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range handles {
		wg.Go(func() {
			next := loaded[i].Clone()
			next.PendingRevoke = append(next.PendingRevoke, "accessor-"+string(rune('a'+i)))
			errs[i] = handles[i].Save(next)
		})
	}
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won >= 0:
			t.Fatalf("saves %d and %d both succeeded", won, i)
		case err == nil:
			won = i
		case !errors.Is(err, k8sstore.ErrConflict):
			t.Errorf("save %d = %v, want nil or ErrConflict", i, err)
		}
	}
	if won < 0 {
		t.Fatal("no save succeeded")
	}
	got, err := keystore.NewKeys(e.open()).Load()
	if err != nil || !slices.Equal(got.PendingRevoke, []string{"accessor-" + string(rune('a'+won))}) {
		t.Fatalf("keystore after the race: %v, %v; want the winner's change alone", got, err)
	}
}

// The Secret deleted by an admin under a handle that has read it: Get says
// not found; a handle that has not read it since gets ErrConflict rather
// than recreating keys; one that has seen it gone recreates it, labelled.
func TestSecretDeletedUnderHandle(t *testing.T) {
	e := newEnv(t)
	a, b := e.open(), e.open()
	keysA, keysB := keystore.NewKeys(a), keystore.NewKeys(b)
	if err := keysA.Save(storetest.Sample()); err != nil {
		t.Fatal(err)
	}
	if _, err := keysB.Load(); err != nil {
		t.Fatal(err)
	}
	if err := e.admin.Delete(t.Context(), secretName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := keysA.Load(); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("Load after the deletion = %v, want ErrNotFound", err)
	}
	if err := keysB.Save(storetest.Sample()); !errors.Is(err, k8sstore.ErrConflict) {
		t.Fatalf("Save from a handle that has not seen the deletion = %v, want ErrConflict", err)
	}
	if _, err := e.admin.Get(t.Context(), secretName, metav1.GetOptions{}); err == nil {
		t.Fatal("the refused save recreated the Secret")
	}
	if err := keysA.Save(storetest.Sample()); err != nil {
		t.Fatalf("Save from the handle that saw the deletion = %v, want nil", err)
	}
	if sec := e.get(); sec.Labels[k8sstore.LabelManagedBy] != "vault-init" || len(sec.OwnerReferences) != 0 {
		t.Fatalf("recreated secret: labels %v, owner references %v", sec.Labels, sec.OwnerReferences)
	}
}

// The claim is visible on the Secret, names its holder and time, and a
// release without sys/init takes it off again.
func TestClaimAnnotations(t *testing.T) {
	e := newEnv(t)
	release, err := e.open().ClaimInit("vault-0/http://127.0.0.1:8200")
	if err != nil {
		t.Fatal(err)
	}
	sec := e.get()
	if by := sec.Annotations[k8sstore.AnnotationClaimedBy]; by != "vault-0/http://127.0.0.1:8200" {
		t.Errorf("claimed-by = %q", by)
	}
	at, err := time.Parse(time.RFC3339, sec.Annotations[k8sstore.AnnotationClaimedAt])
	if err != nil || time.Since(at) > time.Hour || len(sec.Data) != 0 {
		t.Errorf("claimed-at = %q (%v), data keys %d", sec.Annotations[k8sstore.AnnotationClaimedAt], err, len(sec.Data))
	}
	_, err = e.open().ClaimInit("vault-1")
	var ce *keystore.ClaimError
	if !errors.As(err, &ce) || ce.Holder != "vault-0/http://127.0.0.1:8200" || !ce.Since.Equal(at) || ce.Where != "secret "+e.ns+"/vault-init" {
		t.Fatalf("second claim = %#v, want a ClaimError naming the holder", err)
	}
	release(false)
	if sec := e.get(); sec.Annotations[k8sstore.AnnotationClaimedBy] != "" || sec.Annotations[k8sstore.AnnotationClaimedAt] != "" {
		t.Errorf("annotations after release(false): %v", sec.Annotations)
	}
}

// Lock excludes the goroutines of one handle (they share its
// observations), not other handles.
func TestLockOneHandle(t *testing.T) {
	e := newEnv(t)
	s := e.open()
	unlock, err := s.Lock()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lock(); !errors.Is(err, keystore.ErrClaimed) {
		t.Errorf("second Lock on the handle = %v, want ErrClaimed", err)
	}
	if u, err := e.open().Lock(); err != nil {
		t.Errorf("Lock on another handle = %v, want nil", err)
	} else {
		u()
	}
	unlock()
	unlock() // a second call is harmless
	if u, err := s.Lock(); err != nil {
		t.Errorf("Lock after unlock = %v", err)
	} else {
		u()
	}
}

// Probe is a dry run: an absent Secret stays absent, an existing one keeps
// its resourceVersion.
func TestProbeChangesNothing(t *testing.T) {
	e := newEnv(t)
	if err := e.open().Probe(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.admin.Get(t.Context(), secretName, metav1.GetOptions{}); err == nil {
		t.Fatal("Probe created the Secret")
	}
	before := e.create(managed, map[string][]byte{keystore.AppTokenFileName: []byte("x")})
	if err := e.open().Probe(); err != nil {
		t.Fatal(err)
	}
	e.unchanged(before)
}
