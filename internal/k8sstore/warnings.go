package k8sstore

import (
	"fmt"
	"slices"
	"strings"
)

// Warnings returns what threatens the keys in the Secret as this handle
// last read it (by any method), one sentence each, naming the Secret and
// never its data: an owner reference (garbage collection deletes the
// Secret with its owner), a pending deletion, immutable: true (vault-init
// can read the keys but never write them). Nil when the last read found
// nothing of the kind, or no Secret. The keys stay readable either way;
// the caller logs these (at each start, say) so that an operator removes
// the cause before the keys go.
func (s *Secret) Warnings() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.warnings)
}

// note records the warnings of o, just read (nil: absent).
func (s *Secret) note(o *object) {
	w := s.warningsOf(o)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.warnings = w
}

func (s *Secret) warningsOf(o *object) []string {
	if o == nil {
		return nil
	}
	var w []string
	for _, r := range o.OwnerReferences {
		w = append(w, fmt.Sprintf("secret %s has an owner reference (%s/%s): garbage collection can delete it, and the unseal keys with it; remove the reference", s.ref(), r.Kind, r.Name))
	}
	if o.DeletionTimestamp != nil {
		w = append(w, fmt.Sprintf("secret %s is being deleted (since %s; finalizers [%s] hold it): the unseal keys go with it; copy them out",
			s.ref(), o.DeletionTimestamp.UTC().Format("2006-01-02T15:04:05Z"), strings.Join(o.Finalizers, ", ")))
	}
	if immutable(o) {
		w = append(w, fmt.Sprintf("secret %s is immutable: vault-init can read the keys but never update them (token revocations, the app token, an age migration fail)", s.ref()))
	}
	return w
}
