package k8sstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/rest"

	"github.com/aurora/vault-init/internal/keystore"
)

// CallTimeout bounds every call to the API server.
const CallTimeout = 15 * time.Second

// maxAttempts bounds the writes that lose a race (409 Conflict, or
// AlreadyExists on a create) and are tried again on a fresh read.
const maxAttempts = 5

// The labels that mark the Secret as vault-init's, and the value of both.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelName      = "app.kubernetes.io/name"
	ManagedBy      = "vault-init"
)

// ErrConflict means that a blob changed since this handle last read it
// (another vault-init wrote or removed it): the write was refused, and
// nothing was written. Read the blob again before writing it.
var ErrConflict = errors.New("changed by another writer since this vault-init read it")

// ErrForeign means that a Secret of the configured name exists without the
// label app.kubernetes.io/managed-by=vault-init: every method refuses to
// read or write it.
var ErrForeign = errors.New("exists and was not written by vault-init")

// ErrImmutable means that the Secret has immutable: true: its data can
// never change, so every write is refused (before sys/init, by Probe). Get
// still reads the keys it holds.
var ErrImmutable = errors.New("is immutable (immutable: true)")

// Secret is a keystore.Store kept in one Kubernetes Secret: each blob is a
// data key of it. See the package doc for the contract as it keeps it.
// Its methods are safe for concurrent use.
type Secret struct {
	api       *rest.RESTClient
	namespace string
	name      string
	timeout   time.Duration // of each call: CallTimeout

	mu       sync.Mutex
	seen     map[string]observed // what this handle last saw of each blob
	snap     *snapshot           // the last Get's read (see recent)
	gen      uint64              // write starts and ends (see writing)
	window   time.Duration       // of a snapshot: SnapshotWindow
	warnings []string            // of the last read (see Warnings)

	updating sync.Mutex // held between Lock and its unlock
}

// observed is what a handle saw of a blob: absent, or the hash of its bytes.
type observed struct {
	present bool
	sum     [sha256.Size]byte
}

// Open returns the store kept in the Secret secret of namespace, reached
// with restConfig (see RESTConfig). It checks the names and touches
// nothing on the server; Probe does.
func Open(restConfig *rest.Config, namespace, secret string) (*Secret, error) {
	if restConfig == nil {
		return nil, errors.New("open kubernetes keystore: no client configuration")
	}
	if errs := validation.IsDNS1123Label(namespace); len(errs) > 0 {
		return nil, fmt.Errorf("open kubernetes keystore: namespace %q: %s", namespace, strings.Join(errs, "; "))
	}
	if errs := validation.IsDNS1123Subdomain(secret); len(errs) > 0 {
		return nil, fmt.Errorf("open kubernetes keystore: secret name %q: %s", secret, strings.Join(errs, "; "))
	}
	api, err := restClient(restConfig)
	if err != nil {
		return nil, fmt.Errorf("open kubernetes keystore: %w", err)
	}
	return &Secret{api: api, namespace: namespace, name: secret, timeout: CallTimeout, window: SnapshotWindow, seen: map[string]observed{}}, nil
}

// Where names the blob as a Secret's key: "secret NAMESPACE/NAME key BLOB".
func (s *Secret) Where(name string) string { return fmt.Sprintf("secret %s key %s", s.ref(), name) }

func (s *Secret) ref() string { return s.namespace + "/" + s.name }

// Get returns the blob: ErrNotFound when the Secret or its key does not
// exist, another error when the Secret cannot be read or is foreign. It
// reads the Secret, or answers from the read of the handle's previous Get
// when that was of another blob, less than SnapshotWindow ago, with no
// write of the handle since (see the package doc).
func (s *Secret) Get(name string) ([]byte, error) {
	o, ok := s.recent(name)
	if !ok {
		gen := s.generation()
		var err error
		if o, err = s.fetch(); err != nil {
			return nil, err
		}
		s.keep(name, o, gen)
	}
	s.remember(name, observe(o, name))
	if o == nil {
		return nil, keystore.ErrNotFound
	}
	v, ok := o.Data[name]
	if !ok {
		return nil, keystore.ErrNotFound
	}
	return bytes.Clone(v), nil
}

// Put writes the blob, as a compare-and-swap against what this handle last
// read of it (ErrConflict when it changed since), then reads it back.
func (s *Secret) Put(name string, data []byte) error { return s.write(name, data, true) }

// Delete removes the blob's key, as Put writes it; an absent Secret or key
// is no error. It never deletes the Secret.
func (s *Secret) Delete(name string) error { return s.write(name, nil, false) }

// Lock excludes the other goroutines of this handle from a read-modify-
// write (the compare-and-swap cannot tell them apart, as they share what
// the handle observed); it returns an error matching keystore.ErrClaimed
// while one holds it. Other handles and processes are not excluded: Put's
// compare-and-swap keeps their writes apart.
func (s *Secret) Lock() (func(), error) {
	if !s.updating.TryLock() {
		return nil, fmt.Errorf("another goroutine of this vault-init is updating %s (%w)", s.ref(), keystore.ErrClaimed)
	}
	return sync.OnceFunc(s.updating.Unlock), nil
}

// write sets (put) or removes the blob. It gives up with ErrConflict when
// the handle observed the blob and it changed since; a write that loses a
// race for the Secret (409) is tried again on a fresh read, which checks
// that again. A put of the keystore (init.json, init.json.age) also
// removes the init claim, in the same update: the keys are kept, so the
// claim has done its work.
func (s *Secret) write(name string, data []byte, put bool) error {
	defer s.writing()()
	verb := "write"
	if !put {
		verb = "remove"
	}
	unclaim := put && isKeystore(name)
	for attempt := 1; ; attempt++ {
		o, err := s.fetch()
		if err != nil {
			return fmt.Errorf("%s %s: %w", verb, name, err)
		}
		cur := observe(o, name)
		done := holds(o, name, data, put)
		if done && !(unclaim && claimed(o)) {
			// Nothing to do; also a retry of a write that went through
			// but whose reply or read-back was lost.
			s.remember(name, cur)
			return nil
		}
		if seen, ok := s.observation(name); ok && seen != cur && !done {
			return fmt.Errorf("%s %s: %w: nothing written; read it again before writing", verb, s.Where(name), ErrConflict)
		}
		if err := s.writable(o); err != nil {
			return fmt.Errorf("%s %s: %w", verb, name, err)
		}
		var next *object
		if o == nil { // put: a delete of an absent blob is done above
			next = s.newObject()
		} else {
			next = o.deepCopy()
		}
		if put {
			if next.Data == nil {
				next.Data = map[string][]byte{}
			}
			next.Data[name] = data
		} else {
			delete(next.Data, name)
		}
		if unclaim {
			delete(next.Annotations, AnnotationClaimedBy)
			delete(next.Annotations, AnnotationClaimedAt)
		}
		if o == nil {
			err = s.create(next, false)
		} else {
			err = s.update(next, false)
		}
		if err == nil {
			break
		}
		if !lostRace(err) || attempt == maxAttempts {
			return fmt.Errorf("%s %s: %w", verb, s.Where(name), err)
		}
	}
	o, err := s.fetch()
	if err != nil {
		return fmt.Errorf("read back %s: %w", s.Where(name), err)
	}
	if !holds(o, name, data, put) {
		return fmt.Errorf("read back %s: content differs from what was written", s.Where(name))
	}
	s.remember(name, observe(o, name))
	return nil
}

func (s *Secret) remember(name string, o observed) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen[name] = o
}

func (s *Secret) observation(name string) (observed, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.seen[name]
	return o, ok
}

func observe(o *object, name string) observed {
	if o == nil {
		return observed{}
	}
	v, ok := o.Data[name]
	if !ok {
		return observed{}
	}
	return observed{present: true, sum: sha256.Sum256(v)}
}

// holds reports whether the Secret o holds data as the blob (put), or no
// such blob (!put).
func holds(o *object, name string, data []byte, put bool) bool {
	var v []byte
	ok := false
	if o != nil {
		v, ok = o.Data[name]
	}
	if !put {
		return !ok
	}
	return ok && bytes.Equal(v, data)
}

// lostRace reports a write that another writer beat: a 409 on an update,
// or AlreadyExists on a create.
func lostRace(err error) bool { return apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) }

func (s *Secret) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.timeout)
}

var _ keystore.Store = (*Secret)(nil)
