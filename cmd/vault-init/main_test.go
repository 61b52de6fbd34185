package main_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aurora/vault-init/internal/events"
	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/testkit"
	"github.com/aurora/vault-init/internal/vaulttest"
)

// binary is vault-init, built once for these tests.
var binary string

func TestMain(m *testing.M) {
	paths, remove, err := testkit.BuildAll(testkit.Plain)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = paths[0]
	code := m.Run()
	remove()
	os.Exit(code)
}

// start runs vault-init with args and a clean environment plus env.
func start(t *testing.T, env []string, args ...string) *testkit.Proc {
	t.Helper()
	return startAs(t, nil, env, args...)
}

// startAs is start as the user cred (nil: the test's own user).
func startAs(t *testing.T, cred *syscall.Credential, env []string, args ...string) *testkit.Proc {
	t.Helper()
	return testkit.Start(t, binary, testkit.Options{Args: args, Env: env, Cred: cred})
}

// runCmd runs vault-init to completion and returns exit code, stdout, stderr.
func runCmd(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	p := start(t, env, args...)
	code, _ := p.Wait(30 * time.Second)
	return code, p.Stdout.String(), p.Stderr.String()
}

func TestFirstStartThroughTheBinary(t *testing.T) {
	srv := vaulttest.Start(t, vaulttest.Options{})
	dataDir := t.TempDir()
	env := []string{"VAULT_ADDR=" + srv.Addr(), "VAULT_INIT_DATA_DIR=" + dataDir}

	// Before anything: not ready.
	if code, _, _ := runCmd(t, env, "healthcheck"); code != 1 {
		t.Fatalf("healthcheck on a fresh Vault: exit %d, want 1", code)
	}

	p := start(t, env)
	p.WaitEvent(events.Ready, 60*time.Second)
	p.Stdout.WaitFor(t, "=====\n", 5*time.Second)
	data, err := keystore.New(dataDir).Load()
	if err != nil {
		t.Fatal(err)
	}
	// The operator's grep, over stdout and stderr together as docker logs 2>&1 gives them.
	var hits []string
	for _, l := range strings.Split(p.Stdout.String()+p.Stderr.String(), "\n") {
		if strings.Contains(l, "Root Token:") {
			hits = append(hits, l)
		}
	}
	if len(hits) != 1 || hits[0] != "Root Token: "+data.RootToken {
		t.Fatalf(`grep "Root Token:" gives %q`, hits)
	}

	code, out, _ := runCmd(t, env, "status")
	if code != 0 || !strings.Contains(out, "state        active") || !strings.Contains(out, "Mount        aurora/ is kv version 2") ||
		!strings.Contains(out, "5 shares, threshold 3") || !strings.Contains(out, "file mode    0600") {
		t.Fatalf("status: exit %d\n%s", code, out)
	}
	vaulttest.AssertNoSecrets(t, "status output", out, data)
	if code, out, errOut := runCmd(t, env, "healthcheck"); code != 0 || out != "" || errOut != "" {
		t.Fatalf("healthcheck: exit %d, %q, %q", code, out, errOut)
	}
	if code, out, _ := runCmd(t, env, "root-token"); code != 0 || out != data.RootToken+"\n" {
		t.Fatalf("root-token: exit %d", code)
	}

	p.Stop(syscall.SIGTERM, "while ready")
	vaulttest.AssertNoSecrets(t, "stderr", p.Stderr.String(), data)
	if !strings.HasPrefix(p.Stdout.String(), "=====") || strings.Count(p.Stdout.String(), "\n") != 5 {
		t.Fatalf("stdout holds more than the banner:\n%s", p.Stdout.String())
	}
}

func TestSIGTERMWhileWaiting(t *testing.T) {
	// Nothing listens: vault-init is in its wait-for-Vault backoff.
	p := start(t, []string{"VAULT_ADDR=http://127.0.0.1:1", "VAULT_INIT_DATA_DIR=" + t.TempDir()})
	p.WaitFor("does not answer yet", 10*time.Second)
	p.Stop(syscall.SIGTERM, "while waiting for Vault")
}

func TestBadConfigExits2(t *testing.T) {
	code, out, errOut := runCmd(t, []string{"VAULT_INIT_SECRET_THRESHOLD=9"}, "run", "--vault-addr", "", "--check-interval", "1 minute")
	if code != 2 || out != "" {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
	for _, want := range []string{"vault-addr: must not be empty", "secret-threshold: 9 is above secret-shares (5)", `check-interval: "1 minute"`} {
		if !strings.Contains(errOut, want) {
			t.Fatalf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

// TestReadOnlyDataDir: the data dir cannot be written, so vault-init must
// refuse to initialize and leave Vault uninitialized. Root ignores file
// modes, so as root vault-init runs as the user nobody.
func TestReadOnlyDataDir(t *testing.T) {
	srv := vaulttest.Start(t, vaulttest.Options{})
	// Every directory on the way must be open to nobody; t.TempDir's are 0700.
	base, err := os.MkdirTemp("", "vault-init-ro-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	os.Chmod(base, 0o755)
	dataDir := filepath.Join(base, "ro")
	if err := os.Mkdir(dataDir, 0o555); err != nil {
		t.Fatal(err)
	}
	var nobody *syscall.Credential
	if os.Geteuid() == 0 { // root ignores file modes: run as nobody
		nobody = &syscall.Credential{Uid: 65534, Gid: 65534}
	}
	p := startAs(t, nobody, []string{"VAULT_ADDR=" + srv.Addr(), "VAULT_INIT_DATA_DIR=" + dataDir})
	p.WaitFor("refusing to initialize", 30*time.Second)
	if !strings.Contains(p.Stderr.String(), "is not writable") || !strings.Contains(p.Stderr.String(), dataDir) {
		t.Fatalf("the error does not say why:\n%s", p.Stderr.String())
	}
	if srv.Health().Initialized {
		t.Fatal("vault was initialized although the keys could not have been saved")
	}
	if _, err := os.Stat(filepath.Join(dataDir, keystore.FileName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("init.json: %v", err)
	}
	select {
	case <-p.Done():
		t.Fatal("vault-init exited; it should keep running and retry")
	default:
	}
}

// TestTLSThroughTheEnvironment: VAULT_CACERT, read as the Vault CLI reads it,
// makes the generated CA trusted; without it the error names x509.
func TestTLSThroughTheEnvironment(t *testing.T) {
	cert := vaulttest.NewCert(t)
	srv := vaulttest.Start(t, vaulttest.Options{TLS: cert})
	base := []string{"VAULT_ADDR=" + srv.Addr()}

	p := start(t, append(base, "VAULT_INIT_DATA_DIR="+t.TempDir()))
	p.WaitFor("x509: certificate signed by unknown authority", 30*time.Second)
	if srv.Health().Initialized {
		t.Fatal("vault was initialized over an unverified connection")
	}
	p.Stop(syscall.SIGTERM, "while refusing an unverified certificate")

	dataDir := t.TempDir()
	p = start(t, append(base, "VAULT_INIT_DATA_DIR="+dataDir, "VAULT_CACERT="+cert.CAFile))
	p.WaitEvent(events.Ready, 60*time.Second)
	data, err := keystore.New(dataDir).Load()
	if err != nil {
		t.Fatal(err)
	}
	vaulttest.AssertNoSecrets(t, "stderr", p.Stderr.String(), data)
}

// TestPauseResume: an operator seals Vault on purpose and pauses vault-init.
// The seal stays, across a vault-init restart too, until resume.
func TestPauseResume(t *testing.T) {
	srv := vaulttest.Start(t, vaulttest.Options{})
	dataDir := t.TempDir()
	env := []string{"VAULT_ADDR=" + srv.Addr(), "VAULT_INIT_DATA_DIR=" + dataDir}
	p := start(t, env)
	p.WaitEvent(events.Ready, 60*time.Second)
	data, err := keystore.New(dataDir).Load()
	if err != nil {
		t.Fatal(err)
	}
	if code, out, _ := runCmd(t, env, "pause", "incident 42"); code != 0 || !strings.Contains(out, "paused") {
		t.Fatalf("pause: exit %d %q", code, out)
	}
	if err := srv.Client(data.RootToken).Sys().Seal(); err != nil {
		t.Fatal(err)
	}
	p.WaitFor("paused: vault-init does not initialize or unseal", 10*time.Second)
	// Restarted while paused: still paused.
	p.Stop(syscall.SIGTERM, "while paused")
	p = start(t, env)
	p.WaitFor(`"reason": "incident 42"`, 10*time.Second)
	time.Sleep(time.Second) // four check intervals
	if !srv.Health().Sealed {
		t.Fatal("vault-init unsealed a Vault that an operator sealed and paused")
	}
	if code, out, _ := runCmd(t, env, "status"); code != 1 || !strings.Contains(out, "Paused       yes") {
		t.Fatalf("status while paused: exit %d\n%s", code, out)
	}
	if code, _, _ := runCmd(t, env, "resume"); code != 0 {
		t.Fatalf("resume: exit %d", code)
	}
	srv.WaitFor("unseal after resume", 10*time.Second, vaulttest.Unsealed)
	p.WaitFor("resumed: vault-init unseals Vault again", 5*time.Second)
	vaulttest.AssertNoSecrets(t, "stderr", p.Stderr.String(), data)
}

// TestOnce: --once initializes, unseals, configures, prints the banner, and
// exits 0; on a ready Vault it exits 0 at once.
func TestOnce(t *testing.T) {
	srv := vaulttest.Start(t, vaulttest.Options{})
	dataDir := t.TempDir()
	env := []string{"VAULT_ADDR=" + srv.Addr(), "VAULT_INIT_DATA_DIR=" + dataDir}
	code, out, errOut := runCmd(t, env, "--once")
	if code != 0 || !strings.Contains(out, "Root Token: hvs.") || !strings.Contains(errOut, "--once: every node is done") {
		t.Fatalf("--once: exit %d\nstdout %q\nstderr %s", code, out, errOut)
	}
	if h := srv.Health(); h.Sealed || !h.Initialized {
		t.Fatalf("after --once: %+v", h)
	}
	if code, out, _ := runCmd(t, append(env, "VAULT_INIT_ONCE=true")); code != 0 || out != "" {
		t.Fatalf("second --once: exit %d, stdout %q", code, out)
	}
}

// TestBackup: a Raft snapshot from a Raft Vault; a clear refusal, pointing
// to the volume backup, for file storage.
func TestBackup(t *testing.T) {
	nodes := vaulttest.Cluster(t, 1, 1)
	dataDir := t.TempDir()
	env := []string{"VAULT_ADDR=" + nodes[0].Addr(), "VAULT_INIT_DATA_DIR=" + dataDir}
	code, _, errOut := runCmd(t, env, "--once")
	if code != 0 {
		t.Fatalf("--once: %d\n%s", code, errOut)
	}
	file := filepath.Join(t.TempDir(), "vault.snap")
	code, out, errOut := runCmd(t, env, "backup", file)
	if code != 0 || !strings.Contains(out, "wrote a raft snapshot") {
		t.Fatalf("backup: exit %d %q %s", code, out, errOut)
	}
	st, err := os.Stat(file)
	if err != nil || st.Size() < 1000 || st.Mode().Perm() != 0o600 {
		t.Fatalf("snapshot: %v, %v", st, err)
	}

	srv := vaulttest.Start(t, vaulttest.Options{})
	env = []string{"VAULT_ADDR=" + srv.Addr(), "VAULT_INIT_DATA_DIR=" + t.TempDir()}
	if code, _, errOut := runCmd(t, env, "--once"); code != 0 {
		t.Fatalf("--once: %s", errOut)
	}
	code, _, errOut = runCmd(t, env, "backup", filepath.Join(t.TempDir(), "x"))
	if code != 1 || !strings.Contains(errOut, `"file" storage`) || !strings.Contains(errOut, "Backing up") {
		t.Fatalf("backup of file storage: exit %d %s", code, errOut)
	}
}

// TestMonitoring: VAULT_INIT_LISTEN serves /healthz, /readyz and /metrics
// with per-node state and an unseal count that follows a re-seal.
func TestMonitoring(t *testing.T) {
	srv := vaulttest.Start(t, vaulttest.Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen := ln.Addr().String()
	ln.Close()
	dataDir := t.TempDir()
	p := start(t, []string{"VAULT_ADDR=" + srv.Addr(), "VAULT_INIT_DATA_DIR=" + dataDir, "VAULT_INIT_LISTEN=" + listen})
	p.WaitEvent(events.Ready, 60*time.Second)
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + listen + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(raw)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Fatalf("/healthz %d", code)
	}
	if code, _ := get("/readyz"); code != 200 {
		t.Fatalf("/readyz %d once ready", code)
	}
	node := fmt.Sprintf("node=%q", srv.Addr())
	_, m := get("/metrics")
	for _, want := range []string{"vault_init_node_sealed{" + node + "} 0", "vault_init_node_active{" + node + "} 1",
		"vault_init_unseals_total{" + node + "} 1", "vault_init_last_check_timestamp_seconds{" + node + "}"} {
		if !strings.Contains(m, want) {
			t.Fatalf("/metrics lacks %q:\n%s", want, m)
		}
	}
	data, _ := keystore.New(dataDir).Load()
	if err := srv.Client(data.RootToken).Sys().Seal(); err != nil {
		t.Fatal(err)
	}
	srv.WaitFor("unseal", 10*time.Second, vaulttest.Unsealed)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, m = get("/metrics")
		if strings.Contains(m, "vault_init_unseals_total{"+node+"} 2") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the unseal after a re-seal is not counted:\n%s", m)
		}
		time.Sleep(50 * time.Millisecond)
	}
	vaulttest.AssertNoSecrets(t, "/metrics", m, data)
}
