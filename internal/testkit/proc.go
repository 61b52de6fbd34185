package testkit

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/vaulttest"
)

// TestEnv is the environment Start gives every process unless
// Options.AsReleased: a short check interval, so that tests are quick, and
// debug logs, which carry the events that WaitEvent matches.
var TestEnv = []string{"VAULT_INIT_CHECK_INTERVAL=250ms", "VAULT_INIT_LOG_LEVEL=debug"}

// Options says how Start runs vault-init.
type Options struct {
	// Args are the command line after the program name.
	Args []string
	// Env is added to PATH and TestEnv; the process gets nothing else of
	// the test's environment. A later entry wins over an earlier one.
	Env []string
	// Cred runs the process as another user (nil: the test's own).
	Cred *syscall.Credential
	// AsReleased leaves out TestEnv: the default interval and log level.
	AsReleased bool
	// ScanDir, if set, is a data dir: when the test ends, the process's
	// output is scanned for the secrets of the keystore there and of those
	// named with Knows (see Knows for when the scan fails for want of
	// secrets to look for).
	ScanDir string
}

// Proc is one vault-init process of a test. It is killed when the test
// ends; its stderr is logged then if the test failed.
type Proc struct {
	// Stdout is the banner's stream; Stderr carries the logs.
	Stdout, Stderr *vaulttest.Buffer

	t     testing.TB
	cmd   *exec.Cmd
	done  chan struct{}
	scan  string
	known []*keystore.InitData
	given bool
}

// Start runs the binary at path with opts, or fails the test.
func Start(t testing.TB, path string, opts Options) *Proc {
	t.Helper()
	p := &Proc{Stdout: &vaulttest.Buffer{}, Stderr: &vaulttest.Buffer{}, t: t, cmd: exec.Command(path, opts.Args...),
		done: make(chan struct{}), scan: opts.ScanDir}
	env := []string{"PATH=" + os.Getenv("PATH")}
	if !opts.AsReleased {
		env = append(env, TestEnv...)
	}
	p.cmd.Env = append(env, opts.Env...)
	p.cmd.Stdout, p.cmd.Stderr = p.Stdout, p.Stderr
	if opts.Cred != nil {
		p.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: opts.Cred}
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.Kill()
		if p.scan != "" {
			p.AssertNoSecrets()
		}
		if t.Failed() {
			t.Logf("vault-init stderr:\n%s", p.Stderr.String())
		}
	})
	return p
}

// Pid is the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Running reports whether the process has not exited yet.
func (p *Proc) Running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// WaitFor waits until the logs (stderr) contain substr, and fails the test
// with them if they do not within timeout.
func (p *Proc) WaitFor(substr string, timeout time.Duration) {
	p.t.Helper()
	p.Stderr.WaitFor(p.t, substr, timeout)
}

// Count is how many times the logs contain substr so far.
func (p *Proc) Count(substr string) int { return strings.Count(p.Stderr.String(), substr) }

// Signal sends sig, or fails the test.
func (p *Proc) Signal(sig os.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signal %v: %v", sig, err)
	}
}

// Kill kills the process (SIGKILL) and waits until it has exited. It does
// nothing to a process that has exited.
func (p *Proc) Kill() {
	p.cmd.Process.Kill()
	<-p.done
}

// Wait waits for the process to exit and returns its exit code (-1 when a
// signal ended it) and whether a signal ended it. It fails the test if the
// process still runs after timeout.
func (p *Proc) Wait(timeout time.Duration) (code int, signaled bool) {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.t.Fatalf("vault-init still running after %v", timeout)
	}
	ws := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ws.ExitStatus(), ws.Signaled()
}

// StopPromise is how soon vault-init exits after SIGTERM or SIGINT. The
// docs promise 1 s; the margin is for a loaded machine, and a real
// regression (5 s, say) still fails.
const StopPromise = 3 * time.Second

// Stop sends sig and checks the exit as Stopped does, from now.
func (p *Proc) Stop(sig os.Signal, phase string) time.Duration {
	p.t.Helper()
	at := time.Now()
	p.Signal(sig)
	return p.Stopped(at, phase)
}

// Stopped checks an exit after a stop signal sent at: exit code 0, within
// StopPromise. It waits longer than that, so that a slow exit fails on the
// promise, with the time it took. It logs and returns that time.
func (p *Proc) Stopped(at time.Time, phase string) time.Duration {
	p.t.Helper()
	code, signaled := p.Wait(30 * time.Second)
	took := time.Since(at)
	p.t.Logf("figure: exited %v after a stop signal %s (promise: 1s)", took.Round(time.Millisecond), phase)
	if signaled || code != 0 {
		p.t.Fatalf("exit code %d (signaled %v) after a stop signal %s, want 0", code, signaled, phase)
	}
	if took > StopPromise {
		p.t.Fatalf("exited %v after a stop signal %s: more than %v", took, phase, StopPromise)
	}
	return took
}
