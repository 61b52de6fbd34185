//go:build faultinject

package faults

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/roottoken"
	"github.com/aurora/vault-init/internal/testkit"
	"github.com/aurora/vault-init/internal/vaulttest"
)

// The fault points of `vault-init migrate`, in the order it crosses them.
var migratePoints = []string{"migrate-after-pending-save", "migrate-after-first-share", "migrate-after-unsealed"}

// vaultInit runs the faultinject build once with args (and env) against
// addr, keeping its keys in dir, and returns the finished process. Its
// output is scanned for secrets when the test ends.
func vaultInit(t *testing.T, addr, dir string, args []string, env ...string) *proc {
	t.Helper()
	var p *proc
	// Registered before Start's cleanup, so that it runs once the process
	// has exited: the window vault-init measured from Vault's reply that
	// the new seal is in place to the keystore settled and read back.
	t.Cleanup(func() {
		for _, m := range windowRE.FindAllStringSubmatch(p.Stderr.String(), -1) {
			if d, err := time.ParseDuration(m[1]); err == nil && args[0] == "migrate" {
				figures.add("migrate: window from Vault's last reply to the keystore settled", d)
			}
		}
	})
	p = &proc{Proc: testkit.Start(t, binary, testkit.Options{
		Args: args, Env: append([]string{"VAULT_ADDR=" + addr, "VAULT_INIT_DATA_DIR=" + dir}, env...), ScanDir: dir,
	}), t: t, dir: dir}
	return p
}

// exitedOK waits for p and wants exit code 0.
func (p *proc) exitedOK(what string) {
	p.t.Helper()
	if code, signaled := p.Wait(60 * time.Second); code != 0 || signaled {
		p.t.Fatalf("%s: exit %d (signaled %v)\n%s", what, code, signaled, p.Stderr.String())
	}
}

// TestMigrateCrashAtEveryPoint kills `vault-init migrate` (SIGKILL) at each
// of its fault points, to transit and back to Shamir. After every crash
// the keystore names the migration under way and its shares open Vault
// (Shamir: they unseal it; auto-unseal: Vault unseals itself after a
// restart and generate-root takes them); a second migrate finishes, and
// the settled keystore opens Vault after a restart.
func TestMigrateCrashAtEveryPoint(t *testing.T) {
	for _, to := range []string{"transit", "shamir"} {
		for _, point := range migratePoints {
			if testing.Short() && (to != "transit" || point != "migrate-after-unsealed") {
				continue // -short: the crash between Vault's new seal and the keystore's
			}
			t.Run(to+"/"+point, func(t *testing.T) { migrateCrash(t, to, point) })
		}
	}
}

func migrateCrash(t *testing.T, to, point string) {
	srv := vaulttest.Start(t, vaulttest.Options{})
	dir := t.TempDir()
	vaultInit(t, srv.Addr(), dir, []string{"run", "--once"}).exitedOK("run --once")
	orig := loadKeys(t, dir)
	stanza, _ := vaulttest.TransitSeal(t)
	srv.Stop()
	srv.SetExtraConfig(stanza)
	srv.Restart()
	if to == "shamir" {
		vaultInit(t, srv.Addr(), dir, []string{"migrate"}).exitedOK("migrate to transit")
		srv.Stop()
		srv.SetExtraConfig(vaulttest.Disabled(stanza))
		srv.Restart()
	}
	before := loadKeys(t, dir)

	first := vaultInit(t, srv.Addr(), dir, []string{"migrate"}, "VAULT_INIT_FAULT="+point+":kill")
	first.marker(point, 60*time.Second)
	if _, signaled := first.Wait(10 * time.Second); !signaled {
		t.Fatal("vault-init was not killed at the fault point")
	}
	figures.count("fault runs", 1)
	crashed := loadKeys(t, dir)
	if p := crashed.Pending; p == nil || p.Kind != keystore.PendingSealMigration || p.SealType != to {
		t.Fatalf("after a crash at %s the keystore names no migration to %s: %s", point, to, crashed)
	}
	if !crashed.Abandoned().Equal(before) {
		t.Fatal("the crash left the keystore's keys changed")
	}
	opens(t, srv, crashed.GenerateRootKeys())

	second := vaultInit(t, srv.Addr(), dir, []string{"migrate"})
	second.exitedOK("migrate after the crash")
	if !strings.Contains(second.Stdout.String(), "migrated") && !strings.Contains(second.Stdout.String(), "finished the migration") {
		t.Fatalf("second migrate says:\n%s", second.Stdout.String())
	}
	settled := loadKeys(t, dir)
	if settled.Pending != nil || settled.SealType != to || !slices.Equal(settled.GenerateRootKeys(), orig.Keys) {
		t.Fatalf("keystore after the second migrate: %s", settled)
	}
	if st := status(t, srv); st.Sealed || st.Type != to || st.Migration {
		t.Fatalf("vault after the second migrate: %+v", st)
	}
	opens(t, srv, settled.GenerateRootKeys())
	if to == "shamir" {
		// The settled keystore is one vault-init unseals with.
		vaultInit(t, srv.Addr(), dir, []string{"run", "--once"}).exitedOK("run --once after the migration")
		if status(t, srv).Sealed {
			t.Fatal("run --once left vault sealed")
		}
	}
}

// opens proves that keys open srv in the state a migration left it in. A
// Vault that still waits for the migration is left to the second run,
// which completes it with these keys. Otherwise Vault is restarted: on an
// auto-unseal seal it must unseal itself and take keys for generate-root;
// on Shamir it must take keys to unseal.
func opens(t *testing.T, srv *vaulttest.Server, keys []string) {
	t.Helper()
	if status(t, srv).Migration {
		return
	}
	srv.Stop()
	srv.Restart()
	ctx := context.Background()
	sys := srv.Client("").Sys()
	if st := status(t, srv); st.Type != "shamir" {
		srv.WaitFor("auto-unsealed after a restart", 60*time.Second, vaulttest.Unsealed)
		tok, err := roottoken.Generate(ctx, sys, keystore.New(t.TempDir()), keys)
		if err != nil {
			t.Fatalf("generate-root with the stored keys: %v", err)
		}
		if _, err := srv.Client(tok).Auth().Token().LookupSelfWithContext(ctx); err != nil {
			t.Fatalf("generated root token: %v", err)
		}
		return
	}
	for _, k := range keys {
		st, err := sys.UnsealWithContext(ctx, k)
		if err != nil {
			t.Fatalf("unseal with the stored keys: %v", err)
		}
		if !st.Sealed {
			srv.WaitFor("unsealed", 30*time.Second, vaulttest.Unsealed)
			return
		}
	}
	t.Fatal("the stored keys did not unseal vault")
}

// status reads srv's seal-status, or fails the test.
func status(t *testing.T, srv *vaulttest.Server) *api.SealStatusResponse {
	t.Helper()
	st, err := srv.Client("").Sys().SealStatusWithContext(context.Background())
	if err != nil {
		t.Fatalf("seal status: %v", err)
	}
	return st
}
