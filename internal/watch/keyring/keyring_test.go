package keyring_test

import (
	"errors"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/aurora/vault-init/internal/events"
	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/watch/keyring"
)

// errDiskFull is the failing store's Put error.
var errDiskFull = errors.New("no space left on device")

// putFails is the data dir as a Store whose writes fail (a full disk):
// reads, the lock and the rest are the directory's.
type putFails struct{ *keystore.File }

func (putFails) Put(string, []byte) error { return errDiskFull }

// TestUpdateSaveFailed: a change the keystore cannot save returns the
// store's error and is reported as a SaveFailed event (behind the
// keystore_save_failures_total metric); the copy in memory keeps the keys
// last saved. A change that changes nothing writes nothing, and a save that
// works sends no event.
func TestUpdateSaveFailed(t *testing.T) {
	dir := t.TempDir()
	local := keystore.New(dir)
	saved := &keystore.InitData{Version: keystore.FormatVersion, CreatedAt: time.Now().UTC(), SecretShares: 1, SecretThreshold: 1,
		Keys: []string{"fake-key-9b74c9897bac770f"}, RootToken: "hvs.fake-root-9b74c9897bac770f"}
	if err := local.Save(saved); err != nil {
		t.Fatal(err)
	}
	rec := &events.Recorder{}
	em := &events.Emitter{Sink: rec}
	saveFailed := func(e events.Event) bool { return e.Kind == events.SaveFailed }
	revoke := func(d *keystore.InitData) { d.RootToken, d.RootTokenRevoked = "", true }

	failing := keyring.New(keystore.NewKeys(putFails{local}), local, zaptest.NewLogger(t), em)
	if err := failing.Update(func(*keystore.InitData) {}); err != nil || rec.Count(saveFailed) != 0 {
		t.Fatalf("a change of nothing: %v, %d SaveFailed events; want no write", err, rec.Count(saveFailed))
	}
	if err := failing.Update(revoke); !errors.Is(err, errDiskFull) {
		t.Fatalf("Update returned %v, want the store's error", err)
	}
	evs := rec.Events()
	if len(evs) != 1 || evs[0].Kind != events.SaveFailed || evs[0].Error != errDiskFull.Error() {
		t.Fatalf("events %+v, want one SaveFailed with the store's error", evs)
	}
	if d, err := failing.Load(); err != nil || d.RootToken != saved.RootToken {
		t.Fatalf("after the failed save, Load: %v, %v; want the keys as saved", d, err)
	}

	working := keyring.New(local.Keys, local, zaptest.NewLogger(t), em)
	if err := working.Update(revoke); err != nil {
		t.Fatal(err)
	}
	if n := rec.Count(saveFailed); n != 1 {
		t.Fatalf("%d SaveFailed events after a save that worked, want still 1", n)
	}
	if d, err := local.Load(); err != nil || d.RootToken != "" || !d.RootTokenRevoked {
		t.Fatalf("keystore after the save: %v, %v", d, err)
	}
}

// TestRekeyedByAnotherProcess: `vault-init rekey` or `migrate`, run in
// another process, saves new shares of the same init. The ring uses them
// from its next Load, and an Update writes over them (it is the same
// init), where it refuses to for another init's keys.
func TestRekeyedByAnotherProcess(t *testing.T) {
	local := keystore.New(t.TempDir())
	old := &keystore.InitData{Version: keystore.FormatVersion, CreatedAt: time.Now().UTC(), VaultAddr: "http://v:8200",
		SecretShares: 1, SecretThreshold: 1, Keys: []string{"fake-old-key"}, RootToken: "hvs.fake-root"}
	if err := local.Save(old); err != nil {
		t.Fatal(err)
	}
	r := keyring.New(local.Keys, local, zaptest.NewLogger(t), &events.Emitter{Sink: &events.Recorder{}})
	r.Hold(old)
	rekeyed := old.Clone()
	rekeyed.Keys, rekeyed.Generation = []string{"fake-new-key"}, 1
	if err := local.Save(rekeyed); err != nil {
		t.Fatal(err)
	}
	if d, err := r.Load(); err != nil || d.Keys[0] != "fake-new-key" {
		t.Fatalf("Load after a rekey elsewhere: %v, %v; want the new shares", d, err)
	}
	if err := r.Update(func(d *keystore.InitData) { d.PendingRevoke = []string{"acc"} }); err != nil {
		t.Fatal(err)
	}
	// A copy from before the rekey put back (a backup) is not taken.
	if err := local.Save(old); err != nil {
		t.Fatal(err)
	}
	if d, err := r.Load(); err != nil || d.Keys[0] != "fake-new-key" {
		t.Fatalf("Load with an older generation stored: %v, %v; want the copy in memory", d, err)
	}
	other := rekeyed.Clone()
	other.CreatedAt = other.CreatedAt.Add(time.Hour)
	if err := local.Save(other); err != nil {
		t.Fatal(err)
	}
	if d, err := r.Load(); err != nil || d.CreatedAt.Equal(other.CreatedAt) {
		t.Fatalf("Load with another init's keys stored: %v, %v; want the copy in memory", d, err)
	}
	if err := r.Update(func(d *keystore.InitData) { d.PendingRevoke = nil }); err == nil {
		t.Fatal("Update wrote over another init's keys")
	}
}
