package k8sstore

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aurora/vault-init/internal/keystore"
)

// The annotations of an init claim: who holds it, and since when (RFC 3339).
const (
	AnnotationClaimedBy = "vault-init.aurora.dev/claimed-by"
	AnnotationClaimedAt = "vault-init.aurora.dev/claimed-at"
)

// ClaimInit takes the right to call sys/init, as the annotations of the
// Secret: it creates the Secret with them (and no data), or adds them to a
// Secret that holds no keys and no claim, with the resourceVersion it read
// it with. Exactly one of concurrent claimers wins. The others get a
// *keystore.ClaimError (matching keystore.ErrClaimed) naming the holder;
// the holder itself gets its claim back (a restarted pod of the same
// name). A Secret that holds keys (init.json or init.json.age) is no
// claim to take: ClaimInit succeeds with a release that does nothing, and
// the caller's Load finds the keys.
//
// release(true), after a sys/init was sent, keeps the claim for good: a
// holder killed before saving the keys leaves its mark, and nobody
// initializes a second Vault. release(false) removes the claim if it is
// still this holder's and the Secret still holds no keys (best effort: a
// claim left behind is taken back by the same holder).
func (s *Secret) ClaimInit(holder string) (release func(sent bool), err error) {
	if holder == "" {
		return nil, errors.New("claim init: no holder name")
	}
	defer s.writing()()
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		o, err := s.fetch()
		if err != nil {
			return nil, fmt.Errorf("claim init: %w", err)
		}
		if o != nil && !hasKeys(o) {
			// It could be claimed (annotations may change), but never
			// take the keys of the init.
			if err := s.writable(o); err != nil {
				return nil, fmt.Errorf("claim init: %w", err)
			}
		}
		if o == nil {
			next := s.newObject()
			next.Annotations = claimAnnotations(holder)
			err = s.create(next, false)
		} else {
			if hasKeys(o) {
				return func(bool) {}, nil
			}
			switch by := o.Annotations[AnnotationClaimedBy]; by {
			case holder:
				return s.releaser(holder), nil
			case "":
			default:
				since, _ := time.Parse(time.RFC3339, o.Annotations[AnnotationClaimedAt])
				return nil, &keystore.ClaimError{Holder: by, Since: since, Where: "secret " + s.ref()}
			}
			next := o.deepCopy()
			if next.Annotations == nil {
				next.Annotations = map[string]string{}
			}
			for k, v := range claimAnnotations(holder) {
				next.Annotations[k] = v
			}
			err = s.update(next, false)
		}
		if err == nil {
			return s.releaser(holder), nil
		}
		if !lostRace(err) {
			return nil, fmt.Errorf("claim init on secret %s: %w", s.ref(), err)
		}
		// Another writer came first: read again, and see who holds it.
	}
	return nil, fmt.Errorf("claim init on secret %s: it changed under %d attempts in a row; try again", s.ref(), maxAttempts)
}

func claimAnnotations(holder string) map[string]string {
	return map[string]string{
		AnnotationClaimedBy: holder,
		AnnotationClaimedAt: time.Now().UTC().Format(time.RFC3339),
	}
}

// isKeystore reports the blobs that hold the keys.
func isKeystore(name string) bool { return name == keystore.FileName || name == keystore.AgeFileName }

// claimed reports an init claim on o.
func claimed(o *object) bool {
	if o == nil {
		return false
	}
	_, by := o.Annotations[AnnotationClaimedBy]
	_, at := o.Annotations[AnnotationClaimedAt]
	return by || at
}

func hasKeys(o *object) bool {
	_, plain := o.Data[keystore.FileName]
	_, enc := o.Data[keystore.AgeFileName]
	return plain || enc
}

// releaser returns the release of holder's claim; only its first call
// counts.
func (s *Secret) releaser(holder string) func(sent bool) {
	var once sync.Once
	return func(sent bool) {
		once.Do(func() {
			if !sent {
				s.unclaim(holder)
			}
		})
	}
}

// unclaim removes holder's claim from a Secret without keys, with the
// resourceVersion it read; on a 409 it reads again. Other failures leave
// the claim, which the same holder takes back on its next ClaimInit.
func (s *Secret) unclaim(holder string) {
	defer s.writing()()
	for range maxAttempts {
		o, err := s.fetch()
		if err != nil || o == nil || hasKeys(o) || o.Annotations[AnnotationClaimedBy] != holder {
			return
		}
		next := o.deepCopy()
		delete(next.Annotations, AnnotationClaimedBy)
		delete(next.Annotations, AnnotationClaimedAt)
		if err := s.update(next, false); !lostRace(err) {
			return
		}
	}
}
