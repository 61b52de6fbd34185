package vaulttest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// LocalKMS is a local-kms process (github.com/nsmithuk/local-kms, an AWS
// KMS emulator) with its own data dir, for Vaults with an awskms seal. It
// can be stopped, to make the seal unreachable, and restarted on the same
// data and port, where the same key is still there.
//
// local-kms listens on 0.0.0.0 (it has no setting for the address): while a
// test runs, anyone who can reach this machine on the port can use the
// test's key. It is for tests only; its keys protect nothing real.
type LocalKMS struct {
	t    testing.TB
	bin  string
	Dir  string // holds data/ and local-kms.log
	Port int
	// KeyID is the id of the symmetric key that StartLocalKMS created.
	KeyID string

	mu     sync.Mutex
	cmd    *exec.Cmd
	out    *os.File
	exited chan struct{}
}

// LocalKMSRegion is the region the emulator serves and the stanza names.
const LocalKMSRegion = "us-east-1"

// LocalKMSBinary returns the local-kms binary: $LOCALKMS_BIN, else the
// repository's bin/local-kms-VERSION (`make local-kms`, VERSION from
// tools/localkms/go.mod), else local-kms on PATH. When there is none it
// fails the test if CI is set, and skips it with the way to get one
// otherwise.
func LocalKMSBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("LOCALKMS_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("LOCALKMS_BIN: %v", err)
		}
		return p
	}
	if root, err := repoRoot(); err == nil {
		if v, err := localKMSVersion(root); err == nil {
			p := filepath.Join(root, "bin", "local-kms-"+v)
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	if p, err := exec.LookPath("local-kms"); err == nil {
		return p
	}
	const how = "no local-kms binary: run `make local-kms` (builds bin/local-kms-VERSION), set LOCALKMS_BIN, or put local-kms on PATH"
	if os.Getenv("CI") != "" {
		t.Fatalf("%s; CI is set, so this fails instead of skipping", how)
	}
	t.Skipf("%s (under CI this is a failure)", how)
	return ""
}

var localKMSRequire = regexp.MustCompile(`(?m)^\s*github\.com/nsmithuk/local-kms v(\S+)`)

// localKMSVersion reads the pinned version from tools/localkms/go.mod, as
// the Makefile does.
func localKMSVersion(root string) (string, error) {
	raw, err := os.ReadFile(filepath.Join(root, "tools", "localkms", "go.mod"))
	if err != nil {
		return "", err
	}
	m := localKMSRequire.FindSubmatch(raw)
	if m == nil {
		return "", fmt.Errorf("tools/localkms/go.mod requires no local-kms")
	}
	return string(m[1]), nil
}

// StartLocalKMS starts local-kms on a free port with a fresh data dir,
// creates a symmetric key (KeyID) and returns it. It is stopped when the
// test ends.
func StartLocalKMS(t testing.TB) *LocalKMS {
	t.Helper()
	k := &LocalKMS{t: t, bin: LocalKMSBinary(t), Dir: t.TempDir(), Port: freePort(t)}
	t.Cleanup(func() {
		k.Stop()
		if t.Failed() {
			t.Logf("local-kms log (last lines):\n%s", tail(filepath.Join(k.Dir, "local-kms.log")))
		}
	})
	k.Restart()
	id, err := k.createKey()
	if err != nil {
		t.Fatal(err)
	}
	k.KeyID = id
	return k
}

// AWSKMSSeal starts local-kms with a key and returns the awskms seal stanza
// with which a Vault auto-unseals through it, and the emulator (stop it to
// make the seal unreachable).
func AWSKMSSeal(t testing.TB) (string, *LocalKMS) {
	t.Helper()
	k := StartLocalKMS(t)
	return k.Stanza(), k
}

// Endpoint is the emulator's URL, the stanza's endpoint.
func (k *LocalKMS) Endpoint() string { return fmt.Sprintf("http://127.0.0.1:%d", k.Port) }

// Stanza is the `seal "awskms"` block for KeyID at this emulator. The
// credentials are placeholders: local-kms checks none, but Vault's AWS
// client needs some.
func (k *LocalKMS) Stanza() string {
	return fmt.Sprintf(`seal "awskms" {
  region = %q
  access_key = "AKIAEXAMPLE"
  secret_key = "secretexample"
  kms_key_id = %q
  endpoint = %q
}
`, LocalKMSRegion, k.KeyID, k.Endpoint())
}

// Restart starts the process again on the same data dir and port (or for
// the first time) and waits until it accepts connections; it fails the
// test if it does not.
func (k *LocalKMS) Restart() {
	k.t.Helper()
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cmd != nil {
		k.t.Fatal("vaulttest: LocalKMS.Restart while it is running")
	}
	logPath := filepath.Join(k.Dir, "local-kms.log")
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		k.t.Fatal(err)
	}
	cmd := exec.Command(k.bin)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = append(os.Environ(),
		fmt.Sprintf("PORT=%d", k.Port),
		"KMS_REGION="+LocalKMSRegion,
		"KMS_ACCOUNT_ID=111122223333",
		"KMS_DATA_PATH="+filepath.Join(k.Dir, "data"),
		// Not the default /init/seed.yaml: a file there must not seed test keys.
		"KMS_SEED_PATH="+filepath.Join(k.Dir, "seed.yaml"),
	)
	if err := cmd.Start(); err != nil {
		out.Close()
		k.t.Fatalf("start local-kms: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	k.cmd, k.out, k.exited = cmd, out, exited
	if err := waitListening(k.Port, exited, 30*time.Second); err != nil {
		k.t.Fatalf("local-kms did not start listening on %d: %v\n%s", k.Port, err, tail(logPath))
	}
}

// Stop ends the process with SIGTERM and waits for it; the data dir stays.
// It does nothing if the emulator is not running.
func (k *LocalKMS) Stop() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cmd == nil {
		return
	}
	_ = k.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-k.exited:
	case <-time.After(10 * time.Second):
		_ = k.cmd.Process.Kill()
		<-k.exited
	}
	k.out.Close()
	k.cmd, k.out = nil, nil
}

// createKey asks the emulator for a new symmetric key (the KMS API's
// CreateKey) and returns its id.
func (k *LocalKMS) createKey() (string, error) {
	req, err := http.NewRequest(http.MethodPost, k.Endpoint()+"/", bytes.NewReader([]byte("{}")))
	if err != nil {
		return "", err
	}
	req.Header.Set("X-Amz-Target", "TrentService.CreateKey")
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return "", fmt.Errorf("local-kms create key: %w", err)
	}
	defer resp.Body.Close()
	var body struct {
		KeyMetadata struct{ KeyId string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK || body.KeyMetadata.KeyId == "" {
		return "", fmt.Errorf("local-kms create key: status %d, decode error %v", resp.StatusCode, err)
	}
	return body.KeyMetadata.KeyId, nil
}

// tail returns the last lines of the file at path.
func tail(path string) string {
	raw, _ := os.ReadFile(path)
	lines := strings.Split(string(raw), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}
