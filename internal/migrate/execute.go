package migrate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/vault/api"
	"go.uber.org/zap"

	"github.com/aurora/vault-init/internal/faultinject"
	"github.com/aurora/vault-init/internal/keystore"
)

// ErrStillSealed means that every stored share was sent and the node is
// still sealed.
var ErrStillSealed = errors.New("vault is still sealed after every stored share was sent with migrate=true")

// Checks of the node's seal after the last share: Vault reports the new
// seal at once in practice; a few looks cover a slow settle.
const (
	checkTries = 10
	checkEvery = 300 * time.Millisecond
)

// execute migrates node: it saves the pending change, sends the shares
// with migrate=true, checks the node's new seal, and settles the keystore.
// It returns waits when the node is a standby that took the shares and
// waits for the active node to migrate: the keystore keeps the migration
// pending, since the cluster's seal has not changed yet.
func execute(ctx context.Context, node Node, keys Keystore, data *keystore.InitData, pl plan, now func() time.Time, log *zap.Logger) (waits bool, err error) {
	log.Info("migrating the seal", zap.String("node", node.Addr), zap.String("from", pl.from), zap.String("to", pl.to),
		zap.Int("shares", len(pl.keys)), zap.Int("threshold", pl.threshold), zap.Bool("resumed", data.Pending != nil && pl.pending == nil))
	if stale := data.Pending != nil && data.Pending.SealType != pl.to; stale || pl.pending != nil {
		// A pending migration to another seal was never Vault's: the node
		// still migrates, elsewhere. It is replaced (or dropped, when the
		// shares keep their name), in the same save.
		if stale {
			log.Warn("the pending migration names another seal than the one the node migrates to now: replacing it",
				zap.String("pending_to", data.Pending.SealType), zap.String("to", pl.to))
		}
		next := data.Abandoned()
		if pl.pending != nil {
			p := *pl.pending
			p.StartedAt = now().UTC()
			next.Pending = &p
		}
		if err := keys.Save(next); err != nil {
			return false, fmt.Errorf("save the pending migration: %w", err)
		}
		data = next
		faultinject.Point("migrate-after-pending-save")
	}
	last, err := submit(ctx, node.Vault, pl.keys, log)
	if err != nil {
		return false, err
	}
	faultinject.Point("migrate-after-unsealed")
	waits, err = check(ctx, node.Vault, pl.to)
	if err != nil {
		return false, err
	}
	if waits {
		log.Info("the node took the shares and waits for the active node to migrate; the keystore keeps the migration pending",
			zap.String("node", node.Addr), zap.String("to", pl.to))
		return true, nil
	}
	if data.Pending == nil {
		// The seal's kind did not change (another node of a cluster the
		// keystore already follows): nothing to rename.
		log.Info("seal migrated; the keystore already describes it", zap.String("node", node.Addr), zap.String("seal", pl.to))
		return false, nil
	}
	if err := settleAfter(keys, data, log); err != nil {
		return false, fmt.Errorf("vault is on seal %s, but the keystore could not say so (run `vault-init migrate` again to settle it): %w", pl.to, err)
	}
	log.Info("seal migrated; the keystore holds the shares as its new keys", zap.String("node", node.Addr), zap.String("from", pl.from),
		zap.String("to", pl.to), zap.Duration("window", time.Since(last)))
	return false, nil
}

// settleAfter saves data with its pending migration completed. When that
// save fails, another writer may have raced it (the watch loop's
// bookkeeping; a Secret's write is a compare-and-swap against what this
// handle read last): it reads the keystore again and saves the fresh data
// with this migration put back and completed, once, for the same init.
func settleAfter(keys Keystore, data *keystore.InitData, log *zap.Logger) error {
	err := keys.Save(data.Completed())
	if err == nil {
		return nil
	}
	log.Warn("could not save the migrated keys; reading the keystore again", zap.Error(err))
	cur, lerr := keys.Load()
	if lerr != nil {
		return fmt.Errorf("%w (read it again: %v)", err, lerr)
	}
	if !cur.CreatedAt.Equal(data.CreatedAt) || cur.VaultAddr != data.VaultAddr {
		return fmt.Errorf("%w (the keystore now holds another init)", err)
	}
	redo := cur.Clone()
	redo.Pending = data.Pending
	return keys.Save(redo.Completed())
}

// submit sends keys with migrate=true until the node reports unsealed, and
// returns when its last reply came. Vault ignores a share it holds
// already, so a run that follows a crash sends them all again.
func submit(ctx context.Context, v Vault, keys []string, log *zap.Logger) (time.Time, error) {
	for i, k := range keys {
		st, err := v.UnsealWithOptionsWithContext(ctx, &api.UnsealOpts{Key: k, Migrate: true})
		if err != nil {
			return time.Time{}, fmt.Errorf("submit share %d with migrate=true: %w", i, redact(err, keys))
		}
		at := time.Now()
		log.Info("share submitted", zap.Int("key_index", i), zap.Int("progress", st.Progress), zap.Int("threshold", st.T), zap.Bool("sealed", st.Sealed))
		if i == 0 {
			faultinject.Point("migrate-after-first-share")
		}
		if !st.Sealed {
			return at, nil
		}
	}
	return time.Time{}, ErrStillSealed
}

// check waits, briefly, for the node to report the new seal: unsealed,
// of type to, no migration pending. A node that reports itself unsealed,
// of type to, with the migration still pending is a standby that took the
// shares and waits for the active node to migrate: waits is true.
func check(ctx context.Context, v Vault, to string) (waits bool, err error) {
	var last error
	for try := 0; try < checkTries; try++ {
		st, err := v.SealStatusWithContext(ctx)
		switch {
		case err != nil:
			last = fmt.Errorf("read seal status: %w", err)
		case st.Sealed || st.Type != to:
			last = fmt.Errorf("vault took the shares but reports %s, not seal %s unsealed", describe(st), to)
		case st.Migration:
			// Look again, briefly: a lone node ends its migration at once.
			last, waits = nil, true
		default:
			return false, nil
		}
		t := time.NewTimer(checkEvery)
		select {
		case <-ctx.Done():
			t.Stop()
			return false, ctx.Err()
		case <-t.C:
		}
	}
	if last == nil && waits {
		return true, nil
	}
	return false, fmt.Errorf("check the new seal: %w", last)
}

// redact returns err, or a plain copy of its message without the keys when
// it held any (Vault's errors do not echo a share; this makes sure).
func redact(err error, keys []string) error {
	msg := err.Error()
	for _, k := range keys {
		if k != "" {
			msg = strings.ReplaceAll(msg, k, "[redacted]")
		}
	}
	if msg != err.Error() {
		return errors.New(msg)
	}
	return err
}
