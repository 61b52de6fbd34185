package watch

import (
	"sync"

	"github.com/aurora/vault-init/internal/vaultstate"
)

// What the nodes' loops share. Each type guards itself.

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
// mark, which is said once per pause and once at its end (notice).
func (w *Watcher) paused() bool {
	return w.notes.Paused(w.local.Paused())
}

// sayAlreadyInitialized logs, once a run, that no banner will come; not
// while an init is under way, which may yet show one.
func (w *Watcher) sayAlreadyInitialized() {
	if w.coord.UnderWay() == nil {
		w.notes.AlreadyInitialized()
	}
}
