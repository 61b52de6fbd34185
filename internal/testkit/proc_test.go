package testkit

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aurora/vault-init/internal/keystore"
)

// sh runs script with /bin/sh as a stand-in for vault-init.
func sh(t testing.TB, opts Options, script string) *Proc {
	opts.Args = []string{"-c", script}
	return Start(t, "/bin/sh", opts)
}

// A stand-in that logs, stops on SIGTERM with 0, and is stopped at once.
const stoppable = `trap 'echo stopping >&2; exit 0' TERM; echo "level=$VAULT_INIT_LOG_LEVEL x=$X" >&2; while :; do sleep 0.05; done`

func TestStartWaitForStop(t *testing.T) {
	p := sh(t, Options{Env: []string{"X=1", "X=2"}}, stoppable)
	p.WaitFor("level=debug x=2", 10*time.Second)
	if !p.Running() || p.Pid() <= 0 {
		t.Fatal("not running")
	}
	if took := p.Stop(syscall.SIGTERM, "in the test"); took > StopPromise {
		t.Fatalf("took %v", took)
	}
	if p.Running() || p.Count("stopping") != 1 {
		t.Fatalf("running %v, stderr %q", p.Running(), p.Stderr.String())
	}
}

func TestAsReleased(t *testing.T) {
	p := sh(t, Options{AsReleased: true, Env: []string{"X=1"}}, `echo "level=$VAULT_INIT_LOG_LEVEL x=$X" >&2; echo out`)
	if code, signaled := p.Wait(10 * time.Second); code != 0 || signaled {
		t.Fatalf("exit %d, signaled %v", code, signaled)
	}
	if got := p.Stderr.String(); got != "level= x=1\n" || p.Stdout.String() != "out\n" {
		t.Fatalf("stderr %q, stdout %q", got, p.Stdout.String())
	}
}

func TestWaitExitCodes(t *testing.T) {
	if code, signaled := sh(t, Options{}, "exit 3").Wait(10 * time.Second); code != 3 || signaled {
		t.Fatalf("exit 3: got %d, signaled %v", code, signaled)
	}
	p := sh(t, Options{}, "sleep 60")
	p.Kill()
	if code, signaled := p.Wait(time.Second); code != -1 || !signaled {
		t.Fatalf("killed: got %d, signaled %v", code, signaled)
	}
}

// TestStopCanFail: an exit code other than 0, a stop past the promise and
// a process that does not exit all fail the test.
func TestStopCanFail(t *testing.T) {
	for name, script := range map[string]string{
		"exit 1":           `trap 'exit 1' TERM; while :; do sleep 0.05; done`,
		"past the promise": `trap 'sleep 4; exit 0' TERM; while :; do sleep 0.05; done`,
		"killed by TERM":   `exec sleep 60`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{TB: t}
			p := sh(rec, Options{}, script)
			time.Sleep(100 * time.Millisecond) // the trap is set
			rec.run(func() { p.Stop(syscall.SIGTERM, "in the test") })
			rec.cleanup()
			if rec.failure == "" {
				t.Fatal("the stop passed")
			}
		})
	}
}

// TestScanAtCleanup: with ScanDir, a secret of the keystore in the output
// fails the test when it ends; the banner's token line on stdout does not;
// a secret named with Knows is looked for too.
func TestScanAtCleanup(t *testing.T) {
	dir := t.TempDir()
	d := &keystore.InitData{Version: keystore.FormatVersion, CreatedAt: time.Now(), SecretShares: 1, SecretThreshold: 1,
		Keys: []string{"abcdef0123"}, KeysB64: []string{"q83vASM="}, RootToken: "hvs.root"}
	if err := keystore.New(dir).Save(d); err != nil {
		t.Fatal(err)
	}
	named := &keystore.InitData{RootToken: "hvs.named"}
	cases := []struct {
		name, script string
		fails        bool
	}{
		{"nothing", `echo fine >&2`, false},
		{"banner", `echo "Root Token: hvs.root"`, false},
		{"token in the logs", `echo "token hvs.root" >&2`, true},
		{"key on stdout", `echo "abcdef0123"`, true},
		{"named secret", `echo "hvs.named" >&2`, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{TB: t}
			p := sh(rec, Options{ScanDir: dir}, tc.script)
			p.Knows(named)
			p.Wait(10 * time.Second)
			rec.cleanup()
			if (rec.failure != "") != tc.fails {
				t.Fatalf("failure %q, want one: %v", rec.failure, tc.fails)
			}
		})
	}
	// Without ScanDir nothing is scanned.
	rec := &recorder{TB: t}
	p := sh(rec, Options{}, `echo "token hvs.root" >&2`)
	p.Wait(10 * time.Second)
	rec.cleanup()
	if rec.failure != "" {
		t.Fatalf("scanned without ScanDir: %s", rec.failure)
	}
	if !strings.Contains(p.Stderr.String(), "hvs.root") {
		t.Fatal("the stand-in did not run")
	}
}

// An explicit scan with neither ScanDir nor Knows fails: it would look
// for nothing.
func TestScanWithNothingToLookFor(t *testing.T) {
	rec := &recorder{TB: t}
	p := sh(rec, Options{}, `echo hi >&2`)
	p.Wait(10 * time.Second)
	rec.run(p.AssertNoSecrets)
	if !strings.Contains(rec.failure, "no ScanDir") {
		t.Fatalf("failure %q", rec.failure)
	}
	rec.cleanup()
}
