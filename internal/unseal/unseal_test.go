package unseal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/vault/api"
	"go.uber.org/zap/zaptest"
)

// fakeVault plays Vault's Shamir unseal: shares accumulate (a duplicate is
// ignored), and at the threshold they either open it or are all thrown away.
type fakeVault struct {
	mu        sync.Mutex
	threshold int
	good      map[string]bool // shares of this Vault
	parts     []string
	sealed    bool
	// progressZeroOnFail answers 200 with progress 0 instead of an error
	// when the combination fails (as some nodes do).
	progressZeroOnFail bool
	// noData answers the threshold key as a Raft member with none of its
	// cluster's data does: a 500, the parts thrown away, still sealed.
	noData       bool
	storage      string // storage_type in seal-status
	recoverySeal bool
	migration    bool
	submits      int
}

func (f *fakeVault) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch r.URL.Path {
	case "/v1/sys/seal-status":
	case "/v1/sys/unseal":
		f.submits++
		var req struct{ Key string }
		json.NewDecoder(r.Body).Decode(&req)
		if req.Key == "malformed" {
			w.WriteHeader(400)
			fmt.Fprint(w, `{"errors":["'key' must be a valid hex or base64 string"]}`)
			return
		}
		for _, p := range f.parts {
			if p == req.Key {
				goto status
			}
		}
		f.parts = append(f.parts, req.Key)
		if len(f.parts) >= f.threshold {
			ok := true
			for _, p := range f.parts {
				ok = ok && f.good[p]
			}
			f.parts = nil
			if f.noData {
				w.WriteHeader(500)
				fmt.Fprint(w, `{"errors":["failed to create cipher: crypto/aes: invalid key size 0"]}`)
				return
			}
			if ok {
				f.sealed = false
			} else if !f.progressZeroOnFail {
				w.WriteHeader(400)
				fmt.Fprint(w, `{"errors":["Error unsealing: failed to decrypt keyring"]}`)
				return
			}
		}
	default:
		http.NotFound(w, r)
		return
	}
status:
	json.NewEncoder(w).Encode(map[string]any{
		"initialized": true, "sealed": f.sealed, "t": f.threshold, "n": len(f.good), "progress": len(f.parts),
		"storage_type": f.storage, "recovery_seal": f.recoverySeal, "migration": f.migration,
	})
}

func newFake(t *testing.T, f *fakeVault) *Unsealer {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	cfg := api.DefaultConfig()
	cfg.Address = srv.URL
	cfg.MaxRetries = 0
	c, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &Unsealer{Vault: c.Sys(), Log: zaptest.NewLogger(t)}
}

var keys = []string{"k0", "k1", "k2", "k3", "k4"}

func sealedFake() *fakeVault {
	return &fakeVault{threshold: 3, sealed: true, good: map[string]bool{"k0": true, "k1": true, "k2": true, "k3": true, "k4": true}}
}

func TestUnsealStopsAtThreshold(t *testing.T) {
	f := sealedFake()
	n, err := newFake(t, f).Unseal(context.Background(), keys)
	if err != nil || n != 3 || f.sealed || f.submits != 3 {
		t.Fatalf("n=%d err=%v sealed=%v submits=%d, want 3 keys and unsealed", n, err, f.sealed, f.submits)
	}
}

func TestUnsealNotSealedSubmitsNothing(t *testing.T) {
	f := sealedFake()
	f.sealed = false
	n, err := newFake(t, f).Unseal(context.Background(), keys)
	if err != nil || n != 0 || f.submits != 0 {
		t.Fatalf("n=%d err=%v submits=%d", n, err, f.submits)
	}
}

func TestUnsealBuildsOnProgressLeftBehind(t *testing.T) {
	f := sealedFake()
	f.parts = []string{"k3"} // someone submitted one of our shares
	n, err := newFake(t, f).Unseal(context.Background(), keys)
	if err != nil || f.sealed || n != 2 {
		t.Fatalf("n=%d err=%v sealed=%v, want unsealed after 2 more keys", n, err, f.sealed)
	}
}

func TestUnsealRecoversFromForeignProgress(t *testing.T) {
	for _, zero := range []bool{false, true} {
		t.Run(fmt.Sprintf("progress zero reply %v", zero), func(t *testing.T) {
			f := sealedFake()
			f.progressZeroOnFail = zero
			f.parts = []string{"someone-elses-share"}
			_, err := newFake(t, f).Unseal(context.Background(), keys)
			if err != nil || f.sealed {
				t.Fatalf("err=%v sealed=%v, want unsealed on the second pass", err, f.sealed)
			}
		})
	}
}

func TestUnsealRejectedKeys(t *testing.T) {
	cases := []struct {
		name      string
		keys      []string
		zero      bool
		wantIndex int
		wantText  string
	}{
		{"foreign keys, error reply", []string{"x0", "x1", "x2", "x3"}, false, 2, "failed to decrypt keyring"},
		{"foreign keys, progress 0 reply", []string{"x0", "x1", "x2", "x3"}, true, 2, "do not belong to this Vault"},
		{"one foreign key", []string{"k0", "x1", "k2"}, false, 2, "failed to decrypt"},
		{"malformed key", []string{"k0", "malformed", "k2"}, false, 1, "valid hex or base64"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := sealedFake()
			f.progressZeroOnFail = tc.zero
			_, err := newFake(t, f).Unseal(context.Background(), tc.keys)
			var rej *RejectedError
			if !errors.As(err, &rej) || rej.Index != tc.wantIndex || !strings.Contains(err.Error(), tc.wantText) {
				t.Fatalf("err %v, want a rejection of index %d mentioning %q", err, tc.wantIndex, tc.wantText)
			}
			if !f.sealed {
				t.Fatal("unsealed with bad keys")
			}
		})
	}
}

func TestUnsealTooFewKeys(t *testing.T) {
	f := sealedFake()
	_, err := newFake(t, f).Unseal(context.Background(), keys[:2])
	if !errors.Is(err, ErrStillSealed) {
		t.Fatalf("err %v, want ErrStillSealed", err)
	}
}

func TestUnsealTransportErrorIsNotRejection(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/sys/seal-status" {
			fmt.Fprint(w, `{"initialized":true,"sealed":true,"t":3,"progress":0}`)
			return
		}
		w.WriteHeader(502)
		fmt.Fprint(w, `{"errors":["bad gateway"]}`)
	}))
	defer srv.Close()
	cfg := api.DefaultConfig()
	cfg.Address, cfg.MaxRetries = srv.URL, 0
	c, _ := api.NewClient(cfg)
	_, err := (&Unsealer{Vault: c.Sys(), Log: zaptest.NewLogger(t)}).Unseal(context.Background(), keys)
	var rej *RejectedError
	if err == nil || errors.As(err, &rej) {
		t.Fatalf("err %v, want a transport error that is not a rejection", err)
	}
}

func TestRedact(t *testing.T) {
	if got := redact("bad key k1 here", keys); got != "bad key [redacted] here" {
		t.Fatalf("redact: %q", got)
	}
	if err := redactErr(errors.New("oops k2"), keys); strings.Contains(err.Error(), "k2") {
		t.Fatalf("redactErr kept the key: %v", err)
	}
}

func decodeJSON(raw []byte, v any) error { return json.Unmarshal(raw, v) }

func TestUnsealRaftJoinPending(t *testing.T) {
	f := sealedFake()
	f.storage = "raft"
	f.progressZeroOnFail = true // what a joining follower answers to the threshold key
	n, err := newFake(t, f).Unseal(context.Background(), []string{"x0", "x1", "x2"})
	if !errors.Is(err, ErrJoinPending) || n != 3 {
		t.Fatalf("n=%d err=%v, want ErrJoinPending after 3 keys", n, err)
	}
	var rej *RejectedError
	if errors.As(err, &rej) {
		t.Fatal("a joining follower's reply was taken for a rejected key")
	}
}

// A Raft member that holds none of its cluster's data answers the
// threshold key with a 500: the join is unfinished, and nothing is known
// of the keys (Vault had no stored root key to try them on), so they are
// not called rejected. Only on Raft: on other storage the 500 is an error
// like any other.
func TestUnsealRaftJoinedWithoutData(t *testing.T) {
	f := sealedFake()
	f.storage, f.noData = "raft", true
	n, err := newFake(t, f).Unseal(context.Background(), keys)
	if !errors.Is(err, ErrJoinedNoData) || n != 3 || !strings.Contains(err.Error(), "vault answered 500: failed to create cipher: crypto/aes: invalid key size 0") {
		t.Fatalf("n=%d err=%v, want ErrJoinedNoData with Vault's answer after 3 keys", n, err)
	}
	var rej *RejectedError
	if errors.As(err, &rej) {
		t.Fatal("the reply of a member without data was taken for a rejected key")
	}
	f = sealedFake()
	f.storage, f.noData = "file", true
	_, err = newFake(t, f).Unseal(context.Background(), keys)
	if err == nil || errors.Is(err, ErrJoinedNoData) || errors.As(err, &rej) || !strings.Contains(err.Error(), "500") {
		t.Fatalf("file storage: err %v, want the 500 as a plain error", err)
	}
}

func TestUnsealNeverSendsRecoveryKeys(t *testing.T) {
	f := sealedFake()
	f.recoverySeal = true
	n, err := newFake(t, f).Unseal(context.Background(), keys)
	if !errors.Is(err, ErrAutoUnseal) || n != 0 || f.submits != 0 {
		t.Fatalf("n=%d err=%v submits=%d, want ErrAutoUnseal and nothing sent", n, err, f.submits)
	}
}

// A node that waits for a seal migration gets no key: Vault takes keys only
// with migrate=true then, which is `vault-init migrate`'s to send. Both
// directions: to an auto-unseal seal (recovery_seal true) and back to
// Shamir (recovery_seal false).
func TestUnsealLeavesMigrationAlone(t *testing.T) {
	for _, recovery := range []bool{true, false} {
		f := sealedFake()
		f.migration, f.recoverySeal = true, recovery
		n, err := newFake(t, f).Unseal(context.Background(), keys)
		if !errors.Is(err, ErrMigrationPending) || n != 0 || f.submits != 0 {
			t.Fatalf("recovery_seal %t: n=%d err=%v submits=%d, want ErrMigrationPending and nothing sent", recovery, n, err, f.submits)
		}
	}
}

// UnsealSets tries the next set only when Vault rejects the one before:
// the stored keys first, then a pending rekey's.
func TestUnsealSets(t *testing.T) {
	old := []string{"x0", "x1", "x2"}
	f := sealedFake()
	set, n, err := newFake(t, f).UnsealSets(context.Background(), [][]string{old, keys})
	if err != nil || set != 1 || n != 6 || f.sealed {
		t.Fatalf("rejected first set: set=%d n=%d err=%v sealed=%t; want set 1, 3+3 keys, unsealed", set, n, err, f.sealed)
	}
	f = sealedFake()
	set, n, err = newFake(t, f).UnsealSets(context.Background(), [][]string{keys, old})
	if err != nil || set != 0 || n != 3 || f.submits != 3 {
		t.Fatalf("good first set: set=%d n=%d err=%v submits=%d; want set 0 and the second never sent", set, n, err, f.submits)
	}
	f = sealedFake()
	var rej *RejectedError
	if set, _, err = newFake(t, f).UnsealSets(context.Background(), [][]string{old, {"y0", "y1", "y2"}}); !errors.As(err, &rej) || set != 1 {
		t.Fatalf("both rejected: set=%d err=%v; want the last set's rejection", set, err)
	}
	// Too few keys for the threshold (a rekey raised it): the next set
	// goes in, and the progress the first left is thrown away.
	f = sealedFake()
	if set, _, err = newFake(t, f).UnsealSets(context.Background(), [][]string{{"x0", "x1"}, keys}); err != nil || set != 1 || f.sealed {
		t.Fatalf("too few keys: set=%d err=%v sealed=%t; want set 1 to unseal", set, err, f.sealed)
	}
	// With one set, its error is the answer.
	f = sealedFake()
	if set, _, err = newFake(t, f).UnsealSets(context.Background(), [][]string{keys[:2]}); !errors.Is(err, ErrStillSealed) || set != 0 {
		t.Fatalf("one set, too few keys: set=%d err=%v; want ErrStillSealed", set, err)
	}
	// No keys (an auto-unseal keystore): the node's state still answers.
	f = sealedFake()
	f.recoverySeal = true
	if _, n, err = newFake(t, f).UnsealSets(context.Background(), nil); !errors.Is(err, ErrAutoUnseal) || n != 0 {
		t.Fatalf("no sets: n=%d err=%v, want ErrAutoUnseal", n, err)
	}
}
