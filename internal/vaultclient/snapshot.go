package vaultclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hashicorp/vault/api"
)

// SnapshotStallTimeout is how long a Raft snapshot may go without a byte
// from Vault before it is abandoned. A snapshot has no overall deadline: it
// is as large as the data, and 30 s (RequestTimeout) or any other fixed
// figure would cut a large one on a slow link, or wait for hours on a
// connection that died. Vault sends the first byte only once it has packed
// the whole store (read, compressed, sealed) into a temp file, which for a
// store of a few GB on a slow disk takes minutes; after that the bytes flow
// at the link's pace. Five minutes without one means a dead connection or
// a hung Vault. The caller's ctx (Ctrl-C, SIGTERM) ends it sooner.
const SnapshotStallTimeout = 5 * time.Minute

// ErrSnapshotStalled is the cause when Vault sent nothing for
// SnapshotStallTimeout during a snapshot.
var ErrSnapshotStalled = errors.New("vault sent nothing")

// uncapped marks the context of the one request whose reply has no size
// cap: see limitedTransport.
type uncapped struct{}

// Snapshot writes a Raft snapshot of c's Vault (GET
// sys/storage/raft/snapshot, which needs a token with sudo on it) to w and
// returns its size in bytes. Its reply is the only one that MaxResponseBytes
// does not cap: it is streamed to w and never held in memory. The api
// package checks that it is complete (its last file, SHA256SUMS.sealed, is
// there and not empty) and returns api.ErrIncompleteSnapshot otherwise.
func Snapshot(ctx context.Context, c *api.Client, w io.Writer) (int64, error) {
	return snapshot(ctx, c, w, SnapshotStallTimeout)
}

func snapshot(ctx context.Context, c *api.Client, w io.Writer, stall time.Duration) (int64, error) {
	ctx, cancel := context.WithCancelCause(context.WithValue(ctx, uncapped{}, true))
	defer cancel(nil)
	timer := time.AfterFunc(stall, func() { cancel(ErrSnapshotStalled) })
	defer timer.Stop()
	pw := &progressWriter{w: w, progress: func() { timer.Reset(stall) }}
	err := c.Sys().RaftSnapshotWithContext(ctx, pw)
	if cause := context.Cause(ctx); errors.Is(cause, ErrSnapshotStalled) {
		return pw.n, fmt.Errorf("snapshot: %w for %v, after %d bytes", cause, stall, pw.n)
	}
	return pw.n, err
}

// progressWriter counts what it passes on, and calls progress on each write.
type progressWriter struct {
	w        io.Writer
	n        int64
	progress func()
}

func (p *progressWriter) Write(b []byte) (int, error) {
	p.progress()
	n, err := p.w.Write(b)
	// Again once written: a slow reader of stdout is not Vault stalling.
	p.progress()
	p.n += int64(n)
	return n, err
}
