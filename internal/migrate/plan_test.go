package migrate

import (
	"errors"
	"strings"
	"testing"

	"github.com/hashicorp/vault/api"

	"github.com/aurora/vault-init/internal/keystore"
)

func shamirData() *keystore.InitData {
	return &keystore.InitData{Version: keystore.FormatVersion, SealType: Shamir, SecretShares: 5, SecretThreshold: 3,
		Keys: []string{"k0", "k1", "k2", "k3", "k4"}}
}

func transitData() *keystore.InitData {
	d := shamirData()
	d.Pending = &keystore.Pending{Kind: keystore.PendingSealMigration, SealType: "transit"}
	return d.Completed()
}

func withPending(d *keystore.InitData, kind, seal string) *keystore.InitData {
	d = d.Clone()
	d.Pending = &keystore.Pending{Kind: kind, SealType: seal, Keys: []string{"n0"}, Threshold: 1}
	return d
}

// waiting is the seal-status of a sealed node that waits for a migration to seal.
func waiting(seal string) *api.SealStatusResponse {
	return &api.SealStatusResponse{Initialized: true, Sealed: true, Migration: true, Type: seal, RecoverySeal: seal != Shamir, T: 3, N: 5}
}

// standby is the seal-status of a standby that took the shares and waits
// for the active node to migrate to seal.
func standby(seal string) *api.SealStatusResponse {
	st := waiting(seal)
	st.Sealed = false
	return st
}

func on(seal string) *api.SealStatusResponse {
	return &api.SealStatusResponse{Initialized: true, Type: seal, RecoverySeal: seal != Shamir, T: 3, N: 5}
}

func TestDecide(t *testing.T) {
	down := Report{Addr: "a", Err: errors.New("connection refused")}
	node := func(st *api.SealStatusResponse) Report { return Report{Addr: "b", Status: st} }
	tweak := func(st *api.SealStatusResponse, f func(*api.SealStatusResponse)) *api.SealStatusResponse {
		f(st)
		return st
	}
	for _, tc := range []struct {
		name    string
		data    *keystore.InitData
		reports []Report
		action  action
		to      string
		pending string // the seal of the pending change to save first ("": none)
		err     string
	}{
		{name: "shamir to transit", data: shamirData(), reports: []Report{node(waiting("transit"))}, action: migrate, to: "transit", pending: "transit"},
		{name: "transit to shamir", data: transitData(), reports: []Report{node(waiting(Shamir))}, action: migrate, to: Shamir, pending: Shamir},
		{name: "transit to awskms", data: transitData(), reports: []Report{node(waiting("awskms"))}, action: migrate, to: "awskms", pending: "awskms"},
		{name: "transit to another transit: no rename", data: transitData(), reports: []Report{node(waiting("transit"))}, action: migrate, to: "transit"},
		{name: "the waiting node after one that is down", data: shamirData(), reports: []Report{down, node(waiting("transit"))}, action: migrate, to: "transit", pending: "transit"},
		{name: "resumed: the pending change is saved already", data: withPending(shamirData(), keystore.PendingSealMigration, "transit"),
			reports: []Report{node(waiting("transit"))}, action: migrate, to: "transit"},
		{name: "the pending change names another seal: replaced", data: withPending(shamirData(), keystore.PendingSealMigration, "awskms"),
			reports: []Report{node(waiting("transit"))}, action: migrate, to: "transit", pending: "transit"},
		{name: "pending, vault on the new seal: settle", data: withPending(shamirData(), keystore.PendingSealMigration, "transit"),
			reports: []Report{node(on("transit"))}, action: settle, to: "transit"},
		{name: "pending, vault on the old seal: abandon", data: withPending(shamirData(), keystore.PendingSealMigration, "transit"),
			reports: []Report{node(on(Shamir))}, action: abandon, to: "transit"},
		{name: "pending back to shamir, sealed shamir vault: settle", data: withPending(transitData(), keystore.PendingSealMigration, Shamir),
			reports: []Report{node(tweak(on(Shamir), func(s *api.SealStatusResponse) { s.Sealed = true }))}, action: settle, to: Shamir},
		{name: "nothing to migrate", data: shamirData(), reports: []Report{node(on(Shamir))}, action: nothing, to: Shamir},
		{name: "pending, vault down", data: withPending(shamirData(), keystore.PendingSealMigration, "transit"), reports: []Report{down}, err: "vault does not answer"},
		{name: "vault down", data: shamirData(), reports: []Report{down}, err: "exits at startup"},
		{name: "one node down, the other on the keystore's seal", data: shamirData(), reports: []Report{down, node(on(Shamir))}, err: "vault does not answer"},
		{name: "no node waits, vault on another seal", data: shamirData(), reports: []Report{node(on("transit"))}, err: "no node waits for a seal migration"},
		{name: "not initialized", data: shamirData(), reports: []Report{node(&api.SealStatusResponse{Sealed: true})}, err: "not initialized"},
		{name: "a rekey is pending", data: withPending(shamirData(), keystore.PendingRekey, ""), reports: []Report{node(waiting("transit"))}, err: "a rekey is under way"},
		{name: "other threshold", data: shamirData(), reports: []Report{node(tweak(waiting("transit"), func(s *api.SealStatusResponse) { s.T = 2 }))}, err: "not this Vault's shares"},
		{name: "more shares wanted than stored", data: shamirData(), reports: []Report{node(tweak(waiting("transit"), func(s *api.SealStatusResponse) { s.T = 6 }))}, err: "not this Vault's shares"},
		{name: "to auto without a recovery seal", data: shamirData(), reports: []Report{node(tweak(waiting("transit"), func(s *api.SealStatusResponse) { s.RecoverySeal = false }))}, err: "no recovery seal"},
		{name: "to shamir with a recovery seal", data: transitData(), reports: []Report{node(tweak(waiting(Shamir), func(s *api.SealStatusResponse) { s.RecoverySeal = true }))}, err: "reports a recovery seal"},
		// A cluster in Vault's HA order: a standby that took the shares is
		// unsealed and reports the migration until the active node migrates.
		{name: "a standby took the shares: the next sealed node that waits", data: withPending(shamirData(), keystore.PendingSealMigration, "transit"),
			reports: []Report{node(on(Shamir)), node(standby("transit")), node(waiting("transit"))}, action: migrate, to: "transit"},
		{name: "every standby took the shares: the operator's step", data: withPending(shamirData(), keystore.PendingSealMigration, "transit"),
			reports: []Report{node(on(Shamir)), node(standby("transit")), node(standby("transit"))}, action: waitLeader, to: "transit"},
		{name: "migration while unsealed, nothing pending", data: shamirData(), reports: []Report{node(standby("transit"))}, action: waitLeader, to: "transit"},
		// Settle and abandon only when every initialized node agrees.
		{name: "pending to transit, an uninitialized vault reports shamir", data: withPending(shamirData(), keystore.PendingSealMigration, "transit"),
			reports: []Report{node(&api.SealStatusResponse{Type: Shamir, Sealed: true})}, err: "not initialized"},
		{name: "pending to transit, an uninitialized vault and one on transit: settle", data: withPending(shamirData(), keystore.PendingSealMigration, "transit"),
			reports: []Report{node(&api.SealStatusResponse{Type: Shamir, Sealed: true}), node(on("transit"))}, action: settle, to: "transit"},
		{name: "pending to shamir, nodes on transit and shamir", data: withPending(transitData(), keystore.PendingSealMigration, Shamir),
			reports: []Report{node(on("transit")), node(on(Shamir))}, err: "the nodes disagree"},
		{name: "pending to transit, nodes on shamir and transit", data: withPending(shamirData(), keystore.PendingSealMigration, "transit"),
			reports: []Report{node(on(Shamir)), node(on("transit"))}, err: "the nodes disagree"},
		{name: "pending, every node on the old seal: abandon", data: withPending(shamirData(), keystore.PendingSealMigration, "transit"),
			reports: []Report{down, node(on(Shamir)), node(on(Shamir))}, action: abandon, to: "transit"},
		{name: "no seal type", data: shamirData(), reports: []Report{node(waiting(""))}, err: "names no seal type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pl, err := decide(tc.data, tc.reports)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one that says %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if pl.action != tc.action || pl.to != tc.to {
				t.Fatalf("plan %v to %q, want %v to %q", pl.action, pl.to, tc.action, tc.to)
			}
			got := ""
			if pl.pending != nil {
				got = pl.pending.SealType
			}
			if got != tc.pending {
				t.Fatalf("pending change to save %q, want %q", got, tc.pending)
			}
			if pl.action == migrate && (len(pl.keys) != 5 || pl.threshold != 3) {
				t.Fatalf("plan sends %d keys, threshold %d", len(pl.keys), pl.threshold)
			}
		})
	}
}
