package watch_test

import (
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/watch/watchtest"
)

// recorder is a testing.TB that records a failure instead of failing.
type recorder struct {
	testing.TB
	failed string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// scanFails runs the harness's secret scan on a data dir and a log, and
// returns the failure it reports ("" for none).
func scanFails(t *testing.T, dataDir, logs string, known ...*keystore.InitData) string {
	rec := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		watchtest.AssertNoSecrets(rec, watchtest.Scan{DataDir: dataDir, Logs: logs, Known: known, KnownGiven: known != nil})
	}()
	<-done
	return rec.failed
}

// TestSecretScanCanFail: the scan that ends every harness test fails on a
// key share or recovery key (hex or base64) in the logs, and on a keystore
// it cannot read, rather than passing for want of anything to look for.
func TestSecretScanCanFail(t *testing.T) {
	d := &keystore.InitData{Version: keystore.FormatVersion, CreatedAt: time.Now(), SealType: "transit", RootToken: "hvs.root",
		RecoveryShares: 2, RecoveryThreshold: 1, RecoveryKeys: []string{"rk-hex-1", "rk-hex-2"}, RecoveryKeysB64: []string{"cmstYjY0LTE=", "cmstYjY0LTI="}}
	saved := t.TempDir()
	if err := keystore.New(saved).Save(d); err != nil {
		t.Fatal(err)
	}
	garbled := t.TempDir()
	if err := os.WriteFile(initJSON(garbled), []byte(`{"version":1,"keys":[`), 0o600); err != nil {
		t.Fatal(err)
	}
	const saveLog = `{"msg":"unseal keys and root token saved"}`
	cases := []struct {
		name, dir, logs string
		known           []*keystore.InitData
		fails           bool
	}{
		{"clean logs", saved, saveLog, nil, false},
		{"recovery key in hex", saved, "x rk-hex-2 x", nil, true},
		{"recovery key in base64", saved, "x cmstYjY0LTE= x", nil, true},
		{"root token", saved, "x hvs.root x", nil, true},
		{"garbled keystore", garbled, "", nil, true},
		{"garbled keystore, secrets named by the test", garbled, "x rk-hex-1 x", []*keystore.InitData{d}, true},
		{"garbled keystore, none to find", garbled, "", []*keystore.InitData{}, false},
		{"keystore gone after an init", t.TempDir(), saveLog, nil, true},
		{"no init, no keystore", t.TempDir(), "", nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msg := scanFails(t, tc.dir, tc.logs, tc.known...)
			if (msg != "") != tc.fails {
				t.Fatalf("scan failure %q, want a failure: %v", msg, tc.fails)
			}
			t.Logf("scan: %q", msg)
		})
	}
}
