package initializer

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/aurora/vault-init/internal/backoff"
	"github.com/aurora/vault-init/internal/keystore"
)

type fakeVault struct {
	mu    sync.Mutex
	calls int
	err   error
	ctxOK bool // whether the ctx passed was still live when the reply came
	block chan struct{}
	// initialized is what SealStatus answers.
	initialized bool
	recovery    bool // an auto-unseal seal
	lastReq     *api.InitRequest
}

func (f *fakeVault) SealStatusWithContext(context.Context) (*api.SealStatusResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.recovery {
		return &api.SealStatusResponse{Type: "transit", RecoverySeal: true, Sealed: true, Initialized: f.initialized}, nil
	}
	return &api.SealStatusResponse{Type: "shamir", Sealed: true, Initialized: f.initialized}, nil
}

func (f *fakeVault) InitWithContext(ctx context.Context, req *api.InitRequest) (*api.InitResponse, error) {
	f.mu.Lock()
	f.calls++
	f.mu.Unlock()
	if f.block != nil {
		<-f.block
	}
	f.ctxOK = ctx.Err() == nil
	if f.err != nil {
		return nil, f.err
	}
	f.lastReq = req
	resp := &api.InitResponse{RootToken: "hvs.FAKEROOTTOKEN"}
	for i := 0; i < req.SecretShares; i++ {
		resp.Keys = append(resp.Keys, strings.Repeat(string(rune('a'+i)), 64))
		resp.KeysB64 = append(resp.KeysB64, strings.Repeat(string(rune('A'+i)), 44))
	}
	for i := 0; i < req.RecoveryShares; i++ {
		resp.RecoveryKeys = append(resp.RecoveryKeys, strings.Repeat(string(rune('a'+i)), 64))
		resp.RecoveryKeysB64 = append(resp.RecoveryKeysB64, strings.Repeat(string(rune('A'+i)), 44))
	}
	return resp, nil
}

// flakyStore fails Save a number of times, or for ever with failAll.
type flakyStore struct {
	*keystore.File
	failures int
	failAll  bool
	saves    int
	onSave   func(n int) // if set, called with the attempt's number
}

func (s *flakyStore) Save(d *keystore.InitData) error {
	s.saves++
	if s.onSave != nil {
		s.onSave(s.saves)
	}
	if s.failAll || s.saves <= s.failures {
		return errors.New("no space left on device")
	}
	return s.File.Save(d)
}

// bound pairs an Initializer with the Vault it initializes, as the tests use it.
type bound struct {
	*Initializer
	v Vault
}

func (b bound) Initialize(ctx context.Context) (*keystore.InitData, error) {
	return b.Initializer.Initialize(ctx, b.v)
}

func newInit(v Vault, ks Keystore) (bound, *observer.ObservedLogs, *bytes.Buffer) {
	core, logs := observer.New(zapcore.DebugLevel)
	var emergency bytes.Buffer
	return bound{&Initializer{
		Keys: ks, RecoveryShares: 4, RecoveryThreshold: 2, Log: zap.New(core), VaultAddr: "http://vault:8200",
		Shares: 5, Threshold: 3, Emergency: &emergency, InitTimeout: time.Second,
		SaveBackoff: backoff.New(time.Millisecond, 5*time.Millisecond), LockWarnAfter: 50 * time.Millisecond,
	}, v}, logs, &emergency
}

func assertNoSecrets(t *testing.T, logs *observer.ObservedLogs) {
	t.Helper()
	for _, e := range logs.All() {
		line := e.Message
		for k, v := range e.ContextMap() {
			line += " " + k + "=" + toString(v)
		}
		if strings.Contains(line, "FAKEROOTTOKEN") || strings.Contains(line, strings.Repeat("a", 64)) {
			t.Fatalf("a log line carries a secret: %s", line)
		}
	}
}

func toString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	if e, ok := v.(error); ok {
		return e.Error()
	}
	return ""
}

func TestInitializeSavesEverything(t *testing.T) {
	v := &fakeVault{}
	ks := keystore.New(t.TempDir())
	in, logs, emergency := newInit(v, ks)
	data, err := in.Initialize(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	saved, err := ks.Load()
	if err != nil {
		t.Fatal(err)
	}
	if !saved.Equal(data) || len(saved.Keys) != 5 || saved.SecretThreshold != 3 || saved.RootToken != "hvs.FAKEROOTTOKEN" {
		t.Fatalf("saved %v, returned %v", saved, data)
	}
	if emergency.Len() != 0 {
		t.Fatal("emergency block printed after a successful save")
	}
	assertNoSecrets(t, logs)
}

func TestInitializeRefusesWithoutTouchingVault(t *testing.T) {
	t.Run("keystore holds keys", func(t *testing.T) {
		v := &fakeVault{}
		ks := keystore.New(t.TempDir())
		first, _, _ := newInit(v, ks)
		if _, err := first.Initialize(context.Background()); err != nil {
			t.Fatal(err)
		}
		before, _ := os.ReadFile(ks.Path())
		in, _, _ := newInit(v, ks)
		_, err := in.Initialize(context.Background())
		if !errors.Is(err, ErrKeystoreHoldsKeys) || !strings.Contains(err.Error(), "move the keystore away") {
			t.Fatalf("err %v, want ErrKeystoreHoldsKeys with advice", err)
		}
		after, _ := os.ReadFile(ks.Path())
		if v.calls != 1 || !bytes.Equal(before, after) {
			t.Fatalf("vault called %d times (want 1), file changed %v", v.calls, !bytes.Equal(before, after))
		}
	})
	t.Run("keystore unreadable", func(t *testing.T) {
		v := &fakeVault{}
		ks := keystore.New(t.TempDir())
		if err := os.WriteFile(ks.Path(), []byte("{garbage"), 0o600); err != nil {
			t.Fatal(err)
		}
		in, _, _ := newInit(v, ks)
		if _, err := in.Initialize(context.Background()); err == nil || !strings.Contains(err.Error(), "cannot be read") {
			t.Fatalf("err %v, want a refusal", err)
		}
		if v.calls != 0 {
			t.Fatal("vault was initialized despite an unreadable keystore")
		}
	})
	t.Run("data dir not writable", func(t *testing.T) {
		v := &fakeVault{}
		file := filepath.Join(t.TempDir(), "file")
		os.WriteFile(file, nil, 0o600)
		in, _, _ := newInit(v, keystore.New(filepath.Join(file, "dir")))
		if _, err := in.Initialize(context.Background()); err == nil || !strings.Contains(err.Error(), "refusing to initialize") {
			t.Fatalf("err %v, want a refusal", err)
		}
		if v.calls != 0 {
			t.Fatal("vault was initialized despite an unwritable data dir")
		}
	})
}

func TestInitializeAlreadyInitialized(t *testing.T) {
	v := &fakeVault{err: &api.ResponseError{StatusCode: 400, Errors: []string{"Vault is already initialized"}}}
	in, _, _ := newInit(v, keystore.New(t.TempDir()))
	if _, err := in.Initialize(context.Background()); !errors.Is(err, ErrAlreadyInitialized) {
		t.Fatalf("err %v, want ErrAlreadyInitialized", err)
	}
	v.err = &api.ResponseError{StatusCode: 500, Errors: []string{"boom"}}
	if _, err := in.Initialize(context.Background()); err == nil || errors.Is(err, ErrAlreadyInitialized) {
		t.Fatalf("err %v, want a plain init error", err)
	}
}

func TestInitializeRetriesSave(t *testing.T) {
	ks := &flakyStore{File: keystore.New(t.TempDir()), failures: 3}
	in, logs, _ := newInit(&fakeVault{}, ks)
	if _, err := in.Initialize(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ks.saves != 4 {
		t.Fatalf("%d save attempts, want 4", ks.saves)
	}
	if n := logs.FilterMessageSnippet("could not save").Len(); n != 3 {
		t.Fatalf("%d save errors logged, want 3", n)
	}
	assertNoSecrets(t, logs)
}

func TestStopWhileUnsavedPrintsKeysOnce(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The stop comes during the third failed save, whatever the machine's
	// speed: no timing decides the outcome.
	ks := &flakyStore{File: keystore.New(t.TempDir()), failAll: true, onSave: func(n int) {
		if n == 3 {
			cancel()
		}
	}}
	in, logs, emergency := newInit(&fakeVault{}, ks)
	_, err := in.Initialize(ctx)
	if !errors.Is(err, ErrKeysUnsaved) {
		t.Fatalf("err %v, want ErrKeysUnsaved", err)
	}
	out := emergency.String()
	if strings.Count(out, "EMERGENCY") != 1 || strings.Count(out, "Unseal Key ") != 5 || !strings.Contains(out, "hvs.FAKEROOTTOKEN") {
		t.Fatalf("emergency block:\n%s", out)
	}
	if ks.saves != 3 {
		t.Fatalf("%d save attempts, want 3: retried until the stop, and not after it", ks.saves)
	}
	assertNoSecrets(t, logs)
}

func TestShutdownDoesNotCutInit(t *testing.T) {
	v := &fakeVault{block: make(chan struct{})}
	in, _, _ := newInit(v, keystore.New(t.TempDir()))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { _, err := in.Initialize(ctx); done <- err }()
	for {
		v.mu.Lock()
		n := v.calls
		v.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	cancel() // SIGTERM arrives while sys/init is in flight
	close(v.block)
	if err := <-done; err != nil {
		t.Fatalf("Initialize: %v", err)
	}
	if !v.ctxOK {
		t.Fatal("the sys/init request was cancelled by the shutdown")
	}
}

func TestInitializeUnderLock(t *testing.T) {
	dir := t.TempDir()
	other := keystore.New(dir)
	unlock, err := other.TryLock() // another vault-init is initializing
	if err != nil {
		t.Fatal(err)
	}
	v := &fakeVault{}
	in, logs, _ := newInit(v, keystore.New(dir))
	done := make(chan error)
	go func() { _, err := in.Initialize(context.Background()); done <- err }()
	// Wait for the report (LockWarnAfter is 50 ms); the deadline is only a
	// guard against a hang, not what the test measures.
	for deadline := time.Now().Add(30 * time.Second); logs.FilterMessageSnippet("held the data dir lock for too long").Len() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("a long-held lock was not reported")
		}
		time.Sleep(10 * time.Millisecond)
	}
	v.mu.Lock()
	calls := v.calls
	v.initialized = true // ... and finished
	v.mu.Unlock()
	if calls != 0 {
		t.Fatal("initialized while another process held the lock")
	}
	unlock()
	if err := <-done; !errors.Is(err, ErrAlreadyInitialized) {
		t.Fatalf("err %v, want ErrAlreadyInitialized once the other finished", err)
	}
	if v.calls != 0 {
		t.Fatal("initialized a Vault that the other process had initialized")
	}
}

func TestLockWaitEndsWithContext(t *testing.T) {
	dir := t.TempDir()
	unlock, err := keystore.New(dir).TryLock()
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	in, _, _ := newInit(&fakeVault{}, keystore.New(dir))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := in.Initialize(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want the context's error", err)
	}
}

func TestInitializeAutoUnseal(t *testing.T) {
	v := &fakeVault{recovery: true}
	ks := keystore.New(t.TempDir())
	in, logs, _ := newInit(v, ks)
	data, err := in.Initialize(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if v.lastReq.SecretShares != 0 || v.lastReq.RecoveryShares != 4 || v.lastReq.RecoveryThreshold != 2 {
		t.Fatalf("init request %+v, want recovery shares 4/2 and no secret shares", v.lastReq)
	}
	saved, err := ks.Load()
	if err != nil || !saved.Equal(data) || !saved.AutoUnseal() || len(saved.RecoveryKeys) != 4 || len(saved.Keys) != 0 {
		t.Fatalf("saved %v, %v", saved, err)
	}
	assertNoSecrets(t, logs)
}
