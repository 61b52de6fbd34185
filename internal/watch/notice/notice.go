// Package notice is what the watch loop says once rather than every round:
// the data dir's pause mark, once when it is found and once when it is gone
// (with the Paused and Resumed events); and that Vault was initialized
// already, so no banner comes, once a run and never in a run that
// initialized it. A Notices is shared by every node's loop and is safe for
// concurrent use.
package notice

import (
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/aurora/vault-init/internal/events"
	"github.com/aurora/vault-init/internal/keystore"
)

// Notices remembers what was said. Fill the exported fields before first
// use and do not change them after.
type Notices struct {
	Log  *zap.Logger
	Emit func(events.Event) // sends an event (of no node)
	// Pod is this vault-init's pod on Kubernetes ("" elsewhere): it says
	// how to show the root token.
	Pod string

	paused   atomic.Bool // the pause mark was said (and its end not yet)
	toldInit atomic.Bool // "already initialized" was said, or this run initialized
}

// Paused takes what the data dir says of its pause mark (keystore.File's
// Paused: the mark, or nil; a read error rides along with a mark) and
// reports whether Vault is paused. The news is logged and emitted once per
// pause and once at its end; a mark that stays says nothing more.
func (n *Notices) Paused(p *keystore.Pause, err error) bool {
	if n.paused.Swap(p != nil) == (p != nil) { // no news
		return p != nil
	}
	if p == nil {
		n.Log.Info("resumed: vault-init unseals Vault again")
		n.Emit(events.Event{Kind: events.Resumed})
		return false
	}
	fields := []zap.Field{zap.Time("since", p.Since), zap.String("reason", p.Reason)}
	if err != nil {
		fields = append(fields, zap.Error(err))
	}
	n.Log.Warn("paused: vault-init does not initialize or unseal Vault until `vault-init resume`", fields...)
	n.Emit(events.Event{Kind: events.Paused})
	return true
}

// AlreadyInitialized logs, once a run, that Vault was initialized before
// and no banner will come, with how to show the root token. After
// Initialized it says nothing.
func (n *Notices) AlreadyInitialized() {
	if n.toldInit.Swap(true) {
		return
	}
	show := "docker exec vault-init vault-init root-token"
	if n.Pod != "" {
		show = "kubectl exec " + n.Pod + " -c vault-init -- vault-init root-token"
	}
	n.Log.Info("vault was already initialized; no banner this time. Show the root token with: " + show)
}

// Initialized records that this run initialized Vault: "already
// initialized" would be wrong.
func (n *Notices) Initialized() {
	n.toldInit.Store(true)
}
