package k8sstore

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// probeKey is the data key that Probe's dry runs add (or remove), so
// that they change the data as a Put does.
const probeKey = ".probe"

// Probe proves that the Secret can take the keys, by a server-side dry
// run of a change of its data (what a Put does, not a no-op that an
// admission policy or immutable data would let pass): an update that adds
// (or removes) the data key .probe, or a create with it when the Secret
// does not exist. An immutable Secret is refused (ErrImmutable). Nothing
// changes.
func (s *Secret) Probe() error {
	for attempt := 1; ; attempt++ {
		o, err := s.fetch()
		if err != nil {
			return fmt.Errorf("probe: %w", err)
		}
		if err := s.writable(o); err != nil {
			return fmt.Errorf("probe: %w", err)
		}
		if o == nil {
			next := s.newObject()
			next.Data = map[string][]byte{probeKey: []byte("probe")}
			err = s.create(next, true)
		} else {
			next := o.deepCopy()
			if _, ok := next.Data[probeKey]; ok {
				delete(next.Data, probeKey)
			} else {
				if next.Data == nil {
					next.Data = map[string][]byte{}
				}
				next.Data[probeKey] = []byte("probe")
			}
			err = s.update(next, true)
		}
		if err == nil {
			return nil
		}
		if !lostRace(err) || attempt == maxAttempts {
			return fmt.Errorf("probe secret %s (dry run): %w", s.ref(), err)
		}
	}
}

// dryRun is the server-side dry run of Probe.
var dryRun = []string{metav1.DryRunAll}
