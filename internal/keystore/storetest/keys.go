package storetest

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/aurora/vault-init/internal/keystore"
)

// Sample returns init data as sys/init returns it, with fake key values.
func Sample() *keystore.InitData {
	return &keystore.InitData{
		Version: keystore.FormatVersion, CreatedAt: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), VaultAddr: "http://127.0.0.1:8200",
		SecretShares: 3, SecretThreshold: 2, SealType: "shamir",
		Keys:      []string{"0a1b2c3d4e5f", "1a2b3c4d5e6f", "2a3b4c5d6e7f"},
		KeysB64:   []string{"CisLTV8=", "Gis8TV5v", "Kjs8XW5/"},
		RootToken: "hvs.storetest-root-token",
	}
}

func keysRoundTrip(t *testing.T, b Backend) {
	open := b.Fresh(t)
	k := keystore.NewKeys(open())
	d := Sample()
	if err := k.Save(d); err != nil {
		t.Fatalf("Save: %v", err)
	}
	back, err := keystore.NewKeys(open()).Load()
	if err != nil || !back.Equal(d) {
		t.Fatalf("Load from another handle = %v, %v; want what was saved", back, err)
	}
	got, err := k.Update(func(d *keystore.InitData) { d.PendingRevoke = append(d.PendingRevoke, "accessor-1") })
	if err != nil || len(got.PendingRevoke) != 1 {
		t.Fatalf("Update = %v, %v", got, err)
	}
	if back, _ := keystore.NewKeys(open()).Load(); back == nil || len(back.PendingRevoke) != 1 {
		t.Fatalf("Update not seen by another handle: %v", back)
	}
	if err := k.SaveAppToken("hvs.app"); err != nil {
		t.Fatalf("SaveAppToken: %v", err)
	}
	if tok, err := keystore.NewKeys(open()).LoadAppToken(); err != nil || tok != "hvs.app" {
		t.Fatalf("LoadAppToken = %q, %v", tok, err)
	}
}

func garbled(t *testing.T, b Backend) {
	open := b.Fresh(t)
	for _, raw := range []string{"", "{", "not json", `{"version": 1, "keys": []}`, `{"version": 99}`} {
		if err := open().Put(keystore.FileName, []byte(raw)); err != nil {
			t.Fatalf("Put: %v", err)
		}
		_, err := keystore.NewKeys(open()).Load()
		if err == nil || errors.Is(err, keystore.ErrNotFound) {
			t.Fatalf("Load of %q = %v, want an error that is not ErrNotFound", raw, err)
		}
		if err := keystore.NewKeys(open()).Save(Sample()); err != nil {
			t.Fatalf("Save over a garbled keystore: %v", err) // the caller decides; the store does not refuse
		}
	}
}

func ageLayer(t *testing.T, b Backend) {
	open := b.Fresh(t)
	id, _ := age.GenerateX25519Identity()
	other, _ := age.GenerateX25519Identity()
	d := Sample()
	// A plaintext keystore first, as an upgrade finds it; Migrate encrypts it.
	if err := keystore.NewKeys(open()).Save(d); err != nil {
		t.Fatal(err)
	}
	k := keystore.NewKeys(open()).WithAge([]age.Recipient{id.Recipient()}, []age.Identity{id})
	if did, err := k.Migrate(); err != nil || did == "" {
		t.Fatalf("Migrate = %q, %v", did, err)
	}
	s := open()
	if _, err := s.Get(keystore.FileName); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("plaintext blob after Migrate: %v, want ErrNotFound", err)
	}
	enc, err := s.Get(keystore.AgeFileName)
	if err != nil || strings.Contains(string(enc), d.RootToken) || strings.Contains(string(enc), d.Keys[0]) {
		t.Fatalf("encrypted blob: %v, or it holds a secret in the clear", err)
	}
	if back, err := keystore.NewKeys(open()).WithAge(nil, []age.Identity{id}).Load(); err != nil || !back.Equal(d) {
		t.Fatalf("Load with the identity = %v, %v", back, err)
	}
	for name, k := range map[string]*keystore.Keys{
		"no identity":    keystore.NewKeys(open()),
		"wrong identity": keystore.NewKeys(open()).WithAge(nil, []age.Identity{other}),
	} {
		if _, err := k.Load(); err == nil || errors.Is(err, keystore.ErrNotFound) {
			t.Errorf("%s: Load = %v, want an error that is not ErrNotFound", name, err)
		}
	}
	if err := keystore.NewKeys(open()).Save(d); err == nil {
		t.Error("a plaintext Save beside the encrypted keystore succeeded, want a refusal")
	}
	wrong := keystore.NewKeys(open()).WithAge([]age.Recipient{other.Recipient()}, []age.Identity{id})
	if err := wrong.Save(d); err == nil {
		t.Error("Save to a recipient the identity cannot open succeeded, want a refusal")
	}
	if back, err := keystore.NewKeys(open()).WithAge(nil, []age.Identity{id}).Load(); err != nil || !back.Equal(d) {
		t.Fatalf("the keystore after the refused saves = %v, %v", back, err)
	}
}

func claim(t *testing.T, b Backend) {
	open := b.Fresh(t)
	a, c := open(), open()
	release, err := a.ClaimInit("holder-a")
	if err != nil {
		t.Fatalf("first claim: %v", err)
	}
	if _, err := c.ClaimInit("holder-c"); !errors.Is(err, keystore.ErrClaimed) {
		t.Fatalf("second claim while the first holds = %v, want ErrClaimed", err)
	}
	release(false)
	release2, err := c.ClaimInit("holder-c")
	if err != nil {
		t.Fatalf("claim after a release without sys/init: %v", err)
	}
	release2(true) // a sys/init was sent
	_, err = a.ClaimInit("holder-a")
	switch {
	case b.ClaimKept && !errors.Is(err, keystore.ErrClaimed):
		t.Fatalf("claim after another's sys/init = %v, want ErrClaimed (the claim stays)", err)
	case !b.ClaimKept && err != nil:
		t.Fatalf("claim after a release = %v, want nil", err)
	}
	if b.ClaimKept {
		// The holder itself, restarted, takes its own claim back.
		again, err := open().ClaimInit("holder-c")
		if err != nil {
			t.Fatalf("the holder's own claim after its restart = %v, want nil", err)
		}
		again(false)
	}
}

// claimRace: handles race for the claim; exactly one wins.
func claimRace(t *testing.T, b Backend) {
	open := b.Fresh(t)
	var wins atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 5 {
		s := open()
		wg.Go(func() {
			<-start
			release, err := s.ClaimInit("racer-" + string(rune('a'+i)))
			if err == nil {
				wins.Add(1)
				_ = release // held to the end: a release would let a slow racer win too
				return
			}
			if !errors.Is(err, keystore.ErrClaimed) {
				t.Errorf("racer %d: %v, want nil or ErrClaimed", i, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if n := wins.Load(); n != 1 {
		t.Fatalf("%d racers won the claim, want exactly 1", n)
	}
}

func lock(t *testing.T, b Backend) {
	open := b.Fresh(t)
	unlock, err := open().Lock()
	if err != nil {
		t.Fatalf("Lock: %v", err)
	}
	_, err = open().Lock()
	switch {
	case b.LockIsCAS && err != nil:
		t.Fatalf("second Lock on a compare-and-swap store = %v, want nil", err)
	case !b.LockIsCAS && !errors.Is(err, keystore.ErrClaimed):
		t.Fatalf("second Lock while the first holds = %v, want ErrClaimed", err)
	}
	unlock()
}

func unreadable(t *testing.T, b Backend) {
	open := b.Fresh(t)
	if err := keystore.NewKeys(open()).Save(Sample()); err != nil {
		t.Fatal(err)
	}
	b.Break(t, open, keystore.FileName)
	_, err := keystore.NewKeys(open()).Load()
	if err == nil || errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("Load of an unreadable keystore = %v, want an error that is not ErrNotFound", err)
	}
}
