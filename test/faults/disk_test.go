//go:build faultinject

package faults

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aurora/vault-init/internal/events"
	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/testkit"
	"github.com/aurora/vault-init/internal/vaulttest"
)

// TestDiskFull: the data dir fills up between the write probe and the save.
// The keys stay in memory, the save is retried, and it succeeds once space
// is freed. A tiny tmpfs is the disk; mounting one needs root.
func TestDiskFull(t *testing.T) {
	vaulttest.RequireRoot(t, "mounting a tmpfs")
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	srv := vaulttest.Start(t, vaulttest.Options{})
	resume := filepath.Join(t.TempDir(), "resume")
	p := run(t, srv.Addr(), dir, "VAULT_INIT_FAULT=before-init:pause", "VAULT_INIT_FAULT_RESUME="+resume)
	p.marker("before-init", 60*time.Second)

	// Fill the disk: the probe passed, the save will not.
	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := bytes.Repeat([]byte{'x'}, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill: %v", err)
			}
			break
		}
	}
	f.Close()
	os.WriteFile(resume, nil, 0o600)
	figures.count("fault runs", 1)

	p.WaitFor("could not save the unseal keys", 30*time.Second)
	if !strings.Contains(p.Stderr.String(), "no space left on device") {
		t.Fatal("the save error does not say the disk is full")
	}
	time.Sleep(time.Second) // a few more failed attempts, all with the keys held
	if !p.Running() {
		t.Fatal("vault-init gave up with the keys in memory")
	}
	freed := time.Now()
	os.Remove(filler)
	p.WaitEvent(events.Ready, 30*time.Second)
	figures.add("recovery after the disk is freed (free to ready)", time.Since(freed))
	d := loadKeys(t, dir)
	if len(d.Keys) != 5 || srv.Health().Sealed {
		t.Fatalf("keystore %v, sealed %v", d, srv.Health().Sealed)
	}
	lost(t, srv, dir, false)
}

// TestReadOnlyDataDir: a read-only mount of the data dir. vault-init refuses
// to initialize and Vault stays uninitialized.
func TestReadOnlyDataDir(t *testing.T) {
	vaulttest.RequireRoot(t, "a read-only bind mount")
	dir := t.TempDir()
	if out, err := exec.Command("mount", "--bind", dir, dir).CombinedOutput(); err != nil {
		t.Fatalf("bind mount: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	if out, err := exec.Command("mount", "-o", "remount,bind,ro", dir).CombinedOutput(); err != nil {
		t.Fatalf("remount read-only: %v: %s", err, out)
	}
	srv := vaulttest.Start(t, vaulttest.Options{})
	p := run(t, srv.Addr(), dir)
	p.WaitFor("refusing to initialize", 30*time.Second)
	if !strings.Contains(p.Stderr.String(), "read-only file system") {
		t.Fatalf("the error does not say why")
	}
	time.Sleep(time.Second)
	if srv.Health().Initialized || !p.Running() {
		t.Fatal("vault initialized, or vault-init exited")
	}
	figures.count("fault runs", 1)
}

// TestKeystoreVanishes: init.json is deleted while vault-init runs. It says
// so loudly, keeps unsealing from memory, and never initializes again.
func TestKeystoreVanishes(t *testing.T) {
	srv := vaulttest.Start(t, vaulttest.Options{})
	px := testkit.NewProxy(t, srv.Addr())
	dir := t.TempDir()
	p := run(t, px.Addr(), dir)
	p.WaitEvent(events.Ready, 60*time.Second)
	d := loadKeys(t, dir)
	p.Knows(d)
	os.Remove(keystore.New(dir).Path())
	if err := srv.Client(d.RootToken).Sys().Seal(); err != nil {
		t.Fatal(err)
	}
	sealed := time.Now()
	srv.WaitFor("unseal from memory", 30*time.Second, vaulttest.Unsealed)
	figures.add("recovery after a seal with the keystore gone", time.Since(sealed))
	p.WaitFor("keystore has disappeared", 5*time.Second)
	if n := countInits(px); n != 1 {
		t.Fatalf("%d inits", n)
	}
	vaulttest.AssertNoSecrets(t, "logs", p.Stderr.String(), d)
	figures.count("fault runs", 1)
}
