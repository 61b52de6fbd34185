//go:build faultinject

package faults

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aurora/vault-init/internal/events"
	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/testkit"
	"github.com/aurora/vault-init/internal/vaulttest"
)

// TestBadKeystore: a keystore that is truncated, garbled, of an unknown
// format version, or another Vault's. vault-init names the file, overwrites
// nothing, leaves Vault sealed, and does not hot-loop.
func TestBadKeystore(t *testing.T) {
	// A real, sealed Vault with its real keys, and another Vault's keys.
	srv := vaulttest.Start(t, vaulttest.Options{})
	dir := t.TempDir()
	p := run(t, srv.Addr(), dir)
	p.WaitEvent(events.Ready, 60*time.Second)
	p.Kill()
	good, err := os.ReadFile(filepath.Join(dir, keystore.FileName))
	if err != nil {
		t.Fatal(err)
	}
	d := loadKeys(t, dir)
	other := vaulttest.Start(t, vaulttest.Options{})
	otherDir := t.TempDir()
	op := run(t, other.Addr(), otherDir)
	op.WaitEvent(events.Ready, 60*time.Second)
	foreign, _ := os.ReadFile(filepath.Join(otherDir, keystore.FileName))
	future := bytes.Replace(good, []byte(`"version": 1`), []byte(`"version": 7`), 1)

	cases := []struct {
		name, content, want string
	}{
		{"truncated", string(good[:len(good)/2]), "truncated JSON"},
		{"garbled", strings.Replace(string(good), `"keys": [`, `"keys": [[`, 1), "invalid JSON"},
		{"unknown version", string(future), "unknown format version 7"},
		{"another vault's keys", string(foreign), "was rejected"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := srv.Client(d.RootToken).Sys().Seal(); err != nil && !strings.Contains(err.Error(), "sealed") {
				t.Fatal(err)
			}
			path := filepath.Join(dir, keystore.FileName)
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			px := testkit.NewProxy(t, srv.Addr())
			p := run(t, px.Addr(), dir)
			p.Knows(d) // the keystore the scan would read is the broken one
			p.WaitFor(tc.want, 30*time.Second)
			if tc.name != "another vault's keys" && !strings.Contains(p.Stderr.String(), path) {
				t.Fatal("the error does not name the file")
			}
			watch := short(30*time.Second, 4*time.Second)
			before, checksBefore := px.Count("", ""), px.Count("", "/v1/sys/health")
			time.Sleep(watch)
			after, checksAfter := px.Count("", ""), px.Count("", "/v1/sys/health")
			figures.rate("requests per minute with a bad keystore", float64(after-before)/watch.Minutes())
			// Each round starts with one health check, and rounds are spaced
			// by a backoff that starts at 250 ms (200 ms with jitter) and
			// grows to 5 s: never a hot loop.
			if checks := checksAfter - checksBefore; checks > int(watch/(200*time.Millisecond))+1 {
				t.Fatalf("%d rounds in %v with a bad keystore: a hot loop", checks, watch)
			}
			now, _ := os.ReadFile(path)
			if string(now) != tc.content {
				t.Fatal("the keystore was overwritten")
			}
			if !srv.Health().Sealed || !p.Running() {
				t.Fatal("vault unsealed, or vault-init exited")
			}
			p.Kill()
			figures.count("fault runs", 1)
		})
	}
	os.WriteFile(filepath.Join(dir, keystore.FileName), good, 0o600)

	t.Run("uninitialized vault and a garbled keystore", func(t *testing.T) {
		fresh := vaulttest.Start(t, vaulttest.Options{})
		px := testkit.NewProxy(t, fresh.Addr())
		d := t.TempDir()
		os.WriteFile(filepath.Join(d, keystore.FileName), []byte(`{"version":1,"keys":[`), 0o600)
		p := run(t, px.Addr(), d)
		p.Knows() // nothing was ever initialized: no secret to find
		p.WaitFor("refusing to initialize: keystore cannot be read", 30*time.Second)
		if countInits(px) != 0 || fresh.Health().Initialized {
			t.Fatal("initialized over an unreadable keystore")
		}
		figures.count("fault runs", 1)
	})

	t.Run("readable by others", func(t *testing.T) {
		path := filepath.Join(dir, keystore.FileName)
		os.Chmod(path, 0o644)
		srv.Client(d.RootToken).Sys().Seal()
		p := run(t, srv.Addr(), dir)
		p.WaitFor("the keystore is readable by others", 30*time.Second)
		if !strings.Contains(p.Stderr.String(), "chmod 600") {
			t.Fatal("the warning does not name the fix")
		}
		srv.WaitFor("unseal", 30*time.Second, vaulttest.Unsealed)
		if st, _ := os.Stat(path); st.Mode().Perm() != 0o644 {
			t.Fatal("vault-init changed the mode behind the operator's back")
		}
		figures.count("fault runs", 1)
	})
}
