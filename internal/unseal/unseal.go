// Package unseal submits stored unseal keys to one Vault node until it is
// unsealed. It cooperates with anyone else unsealing the same node: Vault
// ignores a share it already has, so progress left by someone else is built
// upon rather than reset.
package unseal

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/vault/api"
	"go.uber.org/zap"

	"github.com/aurora/vault-init/internal/faultinject"
)

// Vault is what the unsealer needs of a node: the api client's Sys() seal
// calls. Non-2xx replies must be *api.ResponseError values.
type Vault interface {
	SealStatusWithContext(ctx context.Context) (*api.SealStatusResponse, error)
	UnsealWithContext(ctx context.Context, key string) (*api.SealStatusResponse, error)
}

// RejectedError means Vault refused the stored keys. Index is the position
// (from 0) in the keystore of the key whose submission failed; with Shamir
// keys that is the key that completed the threshold, so any key submitted
// up to it may be the foreign one. It never holds key material.
type RejectedError struct {
	Index  int
	Reason string
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("unseal key at index %d was rejected: %s", e.Index, e.Reason)
}

// Errors Unseal returns for a node it did not unseal. Match with errors.Is.
var (
	// ErrStillSealed means every key was submitted and Vault is still sealed.
	ErrStillSealed = errors.New("vault is still sealed after all stored keys were submitted")
	// ErrAutoUnseal means the node has an auto-unseal seal (transit, a cloud
	// KMS): it unseals itself when its process starts, and vault-init never
	// sends recovery keys to sys/unseal. Nothing was submitted.
	ErrAutoUnseal = errors.New("vault has an auto-unseal seal: it unseals itself through its seal, not with keys")
	// ErrMigrationPending means the node waits for a seal migration (its
	// seal stanza changed: Shamir to auto-unseal, or back). Vault takes
	// keys only with migrate=true then, and vault-init migrates only when
	// an operator runs `vault-init migrate`. Nothing was submitted.
	ErrMigrationPending = errors.New("vault waits for a seal migration")
	// ErrJoinPending means a Raft node took the threshold key and reset its
	// progress while still sealed: it is finishing its join to the cluster
	// (it needs the keys for that) and turns standby moments later.
	ErrJoinPending = errors.New("the raft node took the threshold key and is finishing its join to the cluster")
	// ErrJoinedNoData means a Raft node has joined its cluster but holds
	// none of the cluster's data yet: with no stored root key to open,
	// Vault answers the threshold key with a 500 ("crypto/aes: invalid key
	// size 0"). It lasts moments while the leader sends the data; it lasts
	// for ever when the leader cannot reach the node's cluster address.
	ErrJoinedNoData = errors.New("the raft node has joined its cluster but has none of the cluster's data yet")
)

// JoinedNoDataError is ErrJoinedNoData (errors.Is matches it) with what
// Vault answered.
type JoinedNoDataError struct {
	Status int    // Vault's HTTP status: 500
	Answer string // Vault's errors, joined
}

func (e *JoinedNoDataError) Error() string {
	return fmt.Sprintf("%v: vault answered %d: %s", ErrJoinedNoData, e.Status, e.Answer)
}

// Is makes errors.Is(err, ErrJoinedNoData) hold.
func (e *JoinedNoDataError) Is(target error) bool { return target == ErrJoinedNoData }

// noRootKey is how Vault (1.21) answers an unseal whose threshold key it
// cannot use because the node holds no stored root key: it opens its
// barrier with an empty key.
const noRootKey = "crypto/aes: invalid key size 0"

// Unsealer unseals one node.
type Unsealer struct {
	Vault Vault
	Log   *zap.Logger
}

// Unseal submits keys one at a time and stops as soon as Vault reports
// sealed=false. It returns how many keys it submitted (0 when the node was
// not sealed). A refused key gives a *RejectedError; a transport failure
// gives that error, wrapped.
func (u *Unsealer) Unseal(ctx context.Context, keys []string) (int, error) {
	st, err := u.Vault.SealStatusWithContext(ctx)
	if err != nil {
		return 0, fmt.Errorf("read seal status: %w", err)
	}
	if !st.Sealed {
		return 0, nil
	}
	if !st.Initialized {
		return 0, errors.New("vault is not initialized")
	}
	if st.Migration {
		return 0, ErrMigrationPending
	}
	if st.RecoverySeal {
		return 0, ErrAutoUnseal
	}
	raft := st.StorageType == "raft"
	submitted, err := u.submit(ctx, keys, st.Progress, st.T, raft)
	var rejected *RejectedError
	if errors.As(err, &rejected) && st.Progress > 0 {
		// Someone else's share may have spoiled the combination. Vault has
		// thrown the progress away; one more pass with only our keys tells.
		u.Log.Warn("unseal failed on top of progress left by someone else; retrying with the stored keys alone",
			zap.Int("foreign_progress", st.Progress), zap.Int("key_index", rejected.Index))
		n, err2 := u.submit(ctx, keys, 0, st.T, raft)
		return submitted + n, err2
	}
	return submitted, err
}

// UnsealSets unseals with the first of sets that Vault takes, the way
// Unseal does with one: a set whose shares Vault rejects (a *RejectedError:
// they are not this Vault's), or that is too small for its threshold
// (ErrStillSealed: a rekey raised it), is followed by the next; the
// progress a set leaves behind is then thrown away by Unseal's retry. It returns the index
// of the set that unsealed the node (or that the last error came from), and
// the number of keys submitted in all. Sets come from
// keystore.InitData.UnsealKeySets: the stored keys, then a pending rekey's.
func (u *Unsealer) UnsealSets(ctx context.Context, sets [][]string) (set, submitted int, err error) {
	if len(sets) == 0 {
		sets = [][]string{nil} // the node's state still answers: auto-unseal, migration
	}
	for i, keys := range sets {
		n, err := u.Unseal(ctx, keys)
		submitted += n
		var rejected *RejectedError
		if !(errors.As(err, &rejected) || errors.Is(err, ErrStillSealed)) || i == len(sets)-1 {
			return i, submitted, err
		}
		u.Log.Warn("the stored unseal keys were rejected; trying the new keys of the rekey that was under way",
			zap.Int("set", i+1), zap.Int("of", len(sets)))
	}
	return len(sets) - 1, submitted, nil // not reached
}

// submit sends keys in order until the node is unsealed.
func (u *Unsealer) submit(ctx context.Context, keys []string, progress, threshold int, raft bool) (int, error) {
	if progress > 0 {
		u.Log.Info("found unseal progress left by someone else; continuing from it",
			zap.Int("progress", progress), zap.Int("threshold", threshold))
	}
	for i, key := range keys {
		st, err := u.Vault.UnsealWithContext(ctx, key)
		if err != nil {
			var re *api.ResponseError
			if errors.As(err, &re) && re.StatusCode >= 400 && re.StatusCode < 500 {
				return i + 1, &RejectedError{Index: i, Reason: redact(strings.Join(re.Errors, "; "), keys)}
			}
			if raft && errors.As(err, &re) && re.StatusCode >= 500 {
				if msg := strings.Join(re.Errors, "; "); strings.Contains(msg, noRootKey) {
					return i + 1, &JoinedNoDataError{Status: re.StatusCode, Answer: redact(msg, keys)}
				}
			}
			return i + 1, fmt.Errorf("submit unseal key %d: %w", i, redactErr(err, keys))
		}
		u.Log.Debug("unseal key submitted", zap.Int("key_index", i), zap.Int("progress", st.Progress), zap.Int("threshold", st.T))
		if i == 0 {
			faultinject.Point("mid-unseal")
		}
		if !st.Sealed {
			return i + 1, nil
		}
		if st.Progress == 0 && raft {
			// A Raft follower answers the threshold key this way while it
			// joins; a wrong key on Raft is refused with an error instead.
			return i + 1, ErrJoinPending
		}
		if st.Progress == 0 {
			// The key completed the threshold and Vault threw the
			// combination away: the keys do not open this Vault.
			return i + 1, &RejectedError{Index: i, Reason: "vault reset the unseal progress to 0; the stored keys do not belong to this Vault"}
		}
	}
	return len(keys), ErrStillSealed
}

// redact removes any key that a message might echo. Vault does not echo
// keys today; this makes sure a future message cannot leak one.
func redact(msg string, keys []string) string {
	for _, k := range keys {
		if k != "" {
			msg = strings.ReplaceAll(msg, k, "[redacted]")
		}
	}
	return msg
}

// redactErr returns err, or a plain copy of its message with keys removed
// when the message held any.
func redactErr(err error, keys []string) error {
	if msg := redact(err.Error(), keys); msg != err.Error() {
		return errors.New(msg)
	}
	return err
}
