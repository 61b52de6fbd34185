package k8stest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/aurora/vault-init/internal/testport"
)

// proc is one server process this package started, known by its own
// *exec.Cmd: it is only ever signalled through that, never looked up by
// name.
type proc struct {
	name   string
	cmd    *exec.Cmd
	log    string // path of the file that has its stdout and stderr
	out    *os.File
	exited chan struct{} // closed once the process has exited
}

// startProc starts bin with args, its output appended to logPath.
func startProc(name, bin, logPath string, args ...string) (*proc, error) {
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s log: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, out: out, exited: make(chan struct{})}
	go func() { cmd.Wait(); close(p.exited) }()
	return p, nil
}

// stop ends the process: SIGTERM, then SIGKILL if it has not exited within
// 10 seconds. It waits for the exit and is safe to call twice.
func (p *proc) stop() {
	if p == nil {
		return
	}
	select {
	case <-p.exited:
	default:
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		timer := time.NewTimer(10 * time.Second)
		defer timer.Stop()
		select {
		case <-p.exited:
		case <-timer.C:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	}
	p.out.Close()
}

// portTaken reports whether the process exited because a port it was given
// was taken in the meantime (another test binary picked it too).
func (p *proc) portTaken() bool {
	select {
	case <-p.exited:
	default:
		return false
	}
	raw, _ := os.ReadFile(p.log)
	return strings.Contains(string(raw), "address already in use")
}

// tail returns the last n lines of the process's log.
func (p *proc) tail(n int) string {
	return tailFile(p.log, n)
}

func tailFile(path string, n int) string {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// errExited is returned by the waits when the process ended first.
var errExited = errors.New("process exited")

// freePort picks a loopback port that no other test server of this user
// is given (testport). An unrelated program can still bind it before the
// server does: the starters retry on "address already in use".
func freePort() (int, error) { return testport.Port() }
