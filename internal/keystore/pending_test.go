package keystore

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func withRekey(d *InitData, recovery bool) *InitData {
	d = d.Clone()
	d.Pending = &Pending{
		Kind: PendingRekey, StartedAt: time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC), Nonce: "n-1", Recovery: recovery,
		Shares: 4, Threshold: 3, Keys: []string{"dddd4444", "eeee5555", "ffff6666", "00007777"},
		KeysB64: []string{"3d1ERA==", "7u5VVQ==", "//9mZg==", "AAB3dw=="},
	}
	return d
}

func autoSample() *InitData {
	d := sample()
	d.SealType, d.SecretShares, d.SecretThreshold, d.Keys, d.KeysB64 = "transit", 0, 0, nil, nil
	d.RecoveryShares, d.RecoveryThreshold = 3, 2
	d.RecoveryKeys, d.RecoveryKeysB64 = []string{"aaaa1111", "bbbb2222", "cccc3333"}, []string{"qqoREQ==", "u7siIg==", "zMwzMw=="}
	return d
}

// A pending change survives a Save and Load whole, and tells the keys
// apart from its own.
func TestPendingRoundTrip(t *testing.T) {
	for _, d := range []*InitData{withRekey(sample(), false), withRekey(autoSample(), true)} {
		ks := New(t.TempDir())
		if err := ks.Save(d); err != nil {
			t.Fatal(err)
		}
		got, err := ks.Load()
		if err != nil || !got.Equal(d) {
			t.Fatalf("Load = %v, %v; want %v", got, err, d)
		}
		other := d.Clone()
		other.Pending.Keys[0] = "1234abcd"
		if other.Equal(d) || d.Pending.Keys[0] == "1234abcd" {
			t.Fatal("Clone shares the pending keys, or Equal ignores them")
		}
	}
}

func TestUnsealKeySets(t *testing.T) {
	d := sample()
	if sets := d.UnsealKeySets(); len(sets) != 1 || !slices.Equal(sets[0], d.Keys) {
		t.Fatalf("no pending change: sets %d", len(sets))
	}
	r := withRekey(d, false)
	if sets := r.UnsealKeySets(); len(sets) != 2 || !slices.Equal(sets[0], d.Keys) || !slices.Equal(sets[1], r.Pending.Keys) {
		t.Fatalf("pending rekey: want the stored keys, then the new ones; got %d sets", len(sets))
	}
	if sets := withRekey(autoSample(), true).UnsealKeySets(); sets != nil {
		t.Fatal("an auto-unseal Vault has no unseal keys")
	}
	m := d.Clone()
	m.Pending = &Pending{Kind: PendingSealMigration, SealType: "transit"}
	if sets := m.UnsealKeySets(); len(sets) != 1 {
		t.Fatal("a migration adds no key set: the shares are the same")
	}
	back := autoSample()
	back.Pending = &Pending{Kind: PendingSealMigration, SealType: "shamir"}
	if sets := back.UnsealKeySets(); len(sets) != 1 || !slices.Equal(sets[0], back.RecoveryKeys) {
		t.Fatal("a pending migration back to Shamir: the recovery keys may be Vault's unseal keys")
	}
	back.Pending.SealType = "awskms"
	if sets := back.UnsealKeySets(); sets != nil {
		t.Fatal("a pending migration between auto-unseal seals: no unseal keys")
	}
}

func TestCompleted(t *testing.T) {
	r := withRekey(sample(), false).Completed()
	if r.Pending != nil || r.SecretShares != 4 || r.SecretThreshold != 3 || r.Keys[0] != "dddd4444" || r.KeysB64[3] != "AAB3dw==" || r.RootToken != "hvs.rootrootroot" {
		t.Fatalf("rekey completed: %v", r)
	}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	rr := withRekey(autoSample(), true).Completed()
	if rr.RecoveryShares != 4 || rr.RecoveryThreshold != 3 || rr.RecoveryKeys[0] != "dddd4444" || len(rr.Keys) != 0 {
		t.Fatalf("recovery rekey completed: %v", rr)
	}

	toAuto := sample()
	toAuto.Pending = &Pending{Kind: PendingSealMigration, SealType: "awskms"}
	a := toAuto.Completed()
	if a.SealType != "awskms" || !a.AutoUnseal() || len(a.Keys) != 0 || a.SecretShares != 0 ||
		!slices.Equal(a.RecoveryKeys, sample().Keys) || !slices.Equal(a.RecoveryKeysB64, sample().KeysB64) || a.RecoveryThreshold != 2 || a.RecoveryShares != 3 {
		t.Fatalf("to auto-unseal: %v", a)
	}
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	back := a.Clone()
	back.Pending = &Pending{Kind: PendingSealMigration, SealType: "shamir"}
	s := back.Completed()
	s.SealType = ""
	want := sample()
	want.SealType, want.Generation = "", 2 // two key changes
	if !s.Equal(want) {
		t.Fatalf("there and back: %v, want %v", s, want)
	}
	if toAuto.Pending == nil || toAuto.SealType != "" || len(toAuto.Keys) != 3 {
		t.Fatal("Completed changed its receiver")
	}
	if ab := withRekey(sample(), false).Abandoned(); !ab.Equal(sample()) {
		t.Fatalf("Abandoned: %v", ab)
	}
}

func TestPendingValidate(t *testing.T) {
	for name, change := range map[string]func(*Pending){
		"unknown kind":        func(p *Pending) { p.Kind = "rotate" },
		"no keys":             func(p *Pending) { p.Keys, p.KeysB64 = nil, nil },
		"threshold too large": func(p *Pending) { p.Threshold = 5 },
		"threshold zero":      func(p *Pending) { p.Threshold = 0 },
		"base64 count":        func(p *Pending) { p.KeysB64 = p.KeysB64[:1] },
		"empty key":           func(p *Pending) { p.Keys[1] = "" },
		"migration no seal":   func(p *Pending) { p.Kind = PendingSealMigration },
	} {
		d := withRekey(sample(), false)
		change(d.Pending)
		if err := d.Validate(); err == nil {
			t.Errorf("%s: Validate accepted it", name)
		} else if strings.Contains(err.Error(), "dddd4444") || strings.Contains(err.Error(), "eeee5555") {
			t.Errorf("%s: error names a key: %v", name, err)
		}
	}
	if err := withRekey(sample(), false).Validate(); err != nil {
		t.Fatal(err)
	}
	if s := withRekey(sample(), false).String(); strings.Contains(s, "dddd") || !strings.Contains(s, "pending: rekey") {
		t.Fatalf("String: %s", s)
	}
}

func TestGenerateRootKeySets(t *testing.T) {
	if sets := sample().GenerateRootKeySets(); len(sets) != 1 || !slices.Equal(sets[0], sample().Keys) {
		t.Fatalf("nothing pending: %d sets", len(sets))
	}
	if sets := withRekey(sample(), false).GenerateRootKeySets(); len(sets) != 2 || sets[1][0] != "dddd4444" {
		t.Fatal("pending unseal-key rekey: want the stored keys, then the new ones")
	}
	a := withRekey(autoSample(), true)
	if sets := a.GenerateRootKeySets(); len(sets) != 2 || !slices.Equal(sets[0], a.RecoveryKeys) || sets[1][0] != "dddd4444" {
		t.Fatal("pending recovery-key rekey: want the stored recovery keys, then the new ones")
	}
	// A rekey of the other kind of keys is not tried.
	if sets := withRekey(autoSample(), false).GenerateRootKeySets(); len(sets) != 1 {
		t.Fatal("unseal-key rekey on an auto-unseal keystore: tried its keys for generate-root")
	}
}

// A keystore with a pending change is written as format version 2, which
// an older vault-init refuses instead of dropping the pending keys at its
// next write; it reads back as version 1 data, and a settled one is
// written as version 1 again.
func TestPendingFormatVersion(t *testing.T) {
	dir := t.TempDir()
	ks := New(dir)
	d := withRekey(sample(), false)
	if err := ks.Save(d); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil || !strings.Contains(string(raw), `"version": 2,`) {
		t.Fatalf("pending keystore on disk: %v\n%s", err, raw)
	}
	var old struct{ Version int }
	if err := json.Unmarshal(raw, &old); err != nil || old.Version == FormatVersion {
		t.Fatal("an older vault-init would read it as its own version")
	}
	if err := ks.Save(d.Completed()); err != nil {
		t.Fatal(err)
	}
	if raw, _ = os.ReadFile(filepath.Join(dir, FileName)); !strings.Contains(string(raw), `"version": 1,`) || !strings.Contains(string(raw), `"generation": 1`) {
		t.Fatalf("settled keystore on disk:\n%s", raw)
	}
	bad := strings.Replace(string(raw), `"version": 1,`, `"version": 2,`, 1)
	if _, err := decode("x", []byte(bad)); err == nil {
		t.Fatal("version 2 without a pending change was accepted")
	}
	if s := fmt.Sprintf("%v %+v %#v", d.Pending, d.Pending, d.Pending); strings.Contains(s, "dddd4444") {
		t.Fatalf("a Pending prints its keys: %s", s)
	}
}
