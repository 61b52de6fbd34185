package vaultclient

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/aurora/vault-init/internal/config"
)

const snapshotPath = "/v1/sys/storage/raft/snapshot"

// archive is a snapshot as Vault sends it: a gzipped tar whose last file
// is SHA256SUMS.sealed. size bytes of random data make it incompressible.
func archive(t *testing.T, size int, complete bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	data := make([]byte, size)
	rand.Read(data)
	files := []struct {
		name string
		body []byte
	}{{"state.bin", data}}
	if complete {
		files = append(files, struct {
			name string
			body []byte
		}{"SHA256SUMS.sealed", []byte("sealed sums")})
	}
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o600, Size: int64(len(f.body))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(f.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := errors.Join(tw.Close(), gz.Close()); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// snapshotVault serves body at the snapshot path, in chunks of chunk
// bytes with a flush and a pause of gap after each (chunk 0: all at once,
// with a Content-Length); every other path gets an oversized reply.
func snapshotVault(t *testing.T, body []byte, chunk int, gap time.Duration) *api.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != snapshotPath {
			w.Write(bytes.Repeat([]byte(" "), MaxResponseBytes+1))
			return
		}
		if chunk == 0 {
			w.Write(body)
			return
		}
		for rest := body; len(rest) > 0; {
			n := min(chunk, len(rest))
			w.Write(rest[:n])
			w.(http.Flusher).Flush()
			rest = rest[n:]
			select {
			case <-time.After(gap):
			case <-r.Context().Done():
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	c, err := New(config.Config{VaultAddr: srv.URL}, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSnapshotIsNotCapped: a snapshot larger than MaxResponseBytes is
// streamed whole, with or without a Content-Length; the same reply outside
// Snapshot, and every other reply, keeps the cap.
func TestSnapshotIsNotCapped(t *testing.T) {
	body := archive(t, MaxResponseBytes+(1<<20), true)
	for _, chunk := range []int{0, 64 << 10} {
		c := snapshotVault(t, body, chunk, 0)
		var got bytes.Buffer
		n, err := Snapshot(context.Background(), c, &got)
		if err != nil {
			t.Fatalf("chunk %d: Snapshot: %v", chunk, err)
		}
		if n != int64(len(body)) || !bytes.Equal(got.Bytes(), body) {
			t.Fatalf("chunk %d: got %d bytes (counted %d), want the %d sent", chunk, got.Len(), n, len(body))
		}
		err = c.Sys().RaftSnapshotWithContext(context.Background(), &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), "allowed") {
			t.Fatalf("chunk %d: a snapshot outside Snapshot: %v, want the size cap", chunk, err)
		}
		if _, err := c.Sys().HealthWithContext(context.Background()); err == nil || !strings.Contains(err.Error(), "allowed") {
			t.Fatalf("chunk %d: health after a snapshot: %v, want the size cap", chunk, err)
		}
	}
}

func TestSnapshotIncomplete(t *testing.T) {
	c := snapshotVault(t, archive(t, 1024, false), 0, 0)
	if _, err := Snapshot(context.Background(), c, &bytes.Buffer{}); !errors.Is(err, api.ErrIncompleteSnapshot) {
		t.Fatalf("Snapshot = %v, want api.ErrIncompleteSnapshot", err)
	}
}

// TestSnapshotStall: Vault sends part of a snapshot, then nothing.
func TestSnapshotStall(t *testing.T) {
	body := archive(t, 1<<20, true)
	// After the first 64 KiB, the next chunk comes in an hour.
	c := snapshotVault(t, body, 64<<10, time.Hour)
	var got bytes.Buffer
	n, err := snapshot(context.Background(), c, &got, 200*time.Millisecond)
	if !errors.Is(err, ErrSnapshotStalled) {
		t.Fatalf("snapshot = %v, want ErrSnapshotStalled", err)
	}
	if n != 64<<10 || !strings.Contains(err.Error(), "after 65536 bytes") {
		t.Fatalf("counted %d bytes, error %q; want 65536", n, err)
	}
}

// TestSnapshotProgressKeepsItGoing: a snapshot that takes several stall
// timeouts in all, but never one without a byte, completes. The margin
// (a chunk every 50 ms against a 2 s stall) holds on a loaded machine.
func TestSnapshotProgressKeepsItGoing(t *testing.T) {
	body := archive(t, 1<<20, true)
	stall := 2 * time.Second
	chunk := len(body)/100 + 1 // 100 chunks, 5 s in all
	c := snapshotVault(t, body, chunk, 50*time.Millisecond)
	var got bytes.Buffer
	if _, err := snapshot(context.Background(), c, &got, stall); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	if !bytes.Equal(got.Bytes(), body) {
		t.Fatal("the snapshot differs from what was sent")
	}
}
