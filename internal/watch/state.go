package watch

import (
	"sync"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/aurora/vault-init/internal/events"
	"github.com/aurora/vault-init/internal/vaultstate"
)

// What the nodes' loops share. Each type guards itself.

// logOnce remembers what is said once per run, or once per change.
type logOnce struct {
	paused   atomic.Bool // the pause mark was logged (and its end not yet)
	toldInit atomic.Bool // "already initialized" was logged, or this run initialized
}

// nodeStates is each node's latest state (vaultstate.State by address),
// for Ready.
type nodeStates struct{ sync.Map }

// allUnsealed reports whether every node in addrs was last seen unsealed.
func (s *nodeStates) allUnsealed(addrs []string) bool {
	for _, a := range addrs {
		if st, _ := s.Load(a); st == nil || !st.(vaultstate.State).Unsealed() {
			return false
		}
	}
	return true
}

// paused reports whether the data dir carries the "sealed on purpose"
// mark, logging it (and emitting Paused or Resumed) once per pause and once
// at its end.
func (w *Watcher) paused() bool {
	p, err := w.local.Paused()
	if w.said.paused.Swap(p != nil) == (p != nil) { // no news
		return p != nil
	}
	if p == nil {
		w.log.Info("resumed: vault-init unseals Vault again")
		w.events.Emit(events.Event{Kind: events.Resumed})
		return false
	}
	fields := []zap.Field{zap.Time("since", p.Since), zap.String("reason", p.Reason)}
	if err != nil {
		fields = append(fields, zap.Error(err))
	}
	w.log.Warn("paused: vault-init does not initialize or unseal Vault until `vault-init resume`", fields...)
	w.events.Emit(events.Event{Kind: events.Paused})
	return true
}

// sayAlreadyInitialized logs, once a run, that no banner will come.
func (w *Watcher) sayAlreadyInitialized() {
	if w.coord.UnderWay() != nil || w.said.toldInit.Swap(true) {
		return
	}
	show := "docker exec vault-init vault-init root-token"
	if w.opts.Pod != "" {
		show = "kubectl exec " + w.opts.Pod + " -c vault-init -- vault-init root-token"
	}
	w.log.Info("vault was already initialized; no banner this time. Show the root token with: " + show)
}
