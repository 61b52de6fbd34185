package keystore

import (
	"errors"
	"fmt"
	"time"
)

// Store is where the keystore's blobs live: the data directory (File) or a
// Kubernetes Secret (package k8sstore). Keys builds the keystore on top of
// one; the age layer sits between the two, so that every Store holds
// encrypted keys the same way. The blobs are init.json (or init.json.age)
// and app-token.
//
// The contract, which storetest.Run checks for every implementation:
//
//   - Get returns an error matching ErrNotFound only when the blob does not
//     exist. A store that exists but cannot be read, was not written by
//     vault-init, or cannot be reached returns another error: "could not
//     read" is never "there is nothing".
//   - Put replaces a blob atomically (a reader sees the old bytes or the new
//     ones, never a mix) and durably, and returns nil only after the blob
//     was read back equal to data. On an error the old blob, if any, may
//     still be there; it is never half-written.
//   - Delete removes a blob durably; an absent blob is not an error. No
//     method ever removes the store itself (a directory, a Secret).
//   - ClaimInit gives the right to call sys/init to one caller among every
//     process sharing the store. While one holds it, the others get an
//     error matching ErrClaimed. release(sent) ends the claim: with sent
//     false (no sys/init request left this process) the claim is given up;
//     with sent true a store whose claim outlives the process (Kubernetes)
//     keeps it, so that a winner killed mid-init leaves a mark and nobody
//     initializes a second Vault.
//   - Lock serializes read-modify-write cycles (Load, change, Save) among
//     the processes sharing the store; it returns an error matching
//     ErrClaimed while another holds it. A store whose Put is already a
//     compare-and-swap against what the handle last read (a Secret) needs
//     no lock between processes: its Lock excludes only the other
//     goroutines of the handle, which share what it read.
//   - Probe proves that Put would work (permissions, space), without
//     changing any blob.
//   - Where names a blob for messages: a path, or a Secret and key. It
//     never holds a secret.
//
// Every method is safe for concurrent use by the goroutines of one process.
type Store interface {
	Get(name string) ([]byte, error)
	Put(name string, data []byte) error
	Delete(name string) error
	ClaimInit(holder string) (release func(sent bool), err error)
	Lock() (unlock func(), err error)
	Probe() error
	Where(name string) string
}

// ErrClaimed means that another process holds the store's claim or lock.
var ErrClaimed = errors.New("claimed by another vault-init")

// ClaimError says who holds a claim that does not go away by itself: a
// Kubernetes Secret claimed by a vault-init that has not saved keys (yet,
// or ever, if it was killed between its sys/init and the save).
type ClaimError struct {
	Holder string
	Since  time.Time
	Where  string
}

func (e *ClaimError) Error() string {
	return fmt.Sprintf("%s: %s claimed the init at %s and has saved no keys yet", e.Where, e.Holder, e.Since.UTC().Format(time.RFC3339))
}

// Unwrap makes a ClaimError match ErrClaimed.
func (e *ClaimError) Unwrap() error { return ErrClaimed }
