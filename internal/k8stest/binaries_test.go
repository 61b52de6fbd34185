package k8stest

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// recorder is a testing.TB that records Fatalf and Skipf instead of
// ending the test, so that the lookup's choice can be checked.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper()                      {}
func (r *recorder) Fatalf(f string, args ...any) { r.fatal = fmt.Sprintf(f, args...) }
func (r *recorder) Skipf(f string, args ...any)  { r.skip = fmt.Sprintf(f, args...) }

// A missing binary skips with the way to build it, and fails under CI.
func TestMissingBinary(t *testing.T) {
	absent := filepath.Join(t.TempDir(), "kube-apiserver")
	t.Setenv("KUBE_APISERVER_BIN", absent)

	t.Setenv("CI", "")
	r := &recorder{TB: t}
	if got := APIServerBinary(r); got != "" || r.fatal != "" || !strings.Contains(r.skip, "make k8s-bins") || !strings.Contains(r.skip, absent) {
		t.Errorf("without CI: got %q, fatal %q, skip %q; want a skip naming the path and `make k8s-bins`", got, r.fatal, r.skip)
	}

	t.Setenv("CI", "true")
	r = &recorder{TB: t}
	if APIServerBinary(r); r.skip != "" || !strings.Contains(r.fatal, "make k8s-bins") {
		t.Errorf("with CI: fatal %q, skip %q; want a failure", r.fatal, r.skip)
	}
}

// The env var names the binary when set.
func TestBinaryFromEnv(t *testing.T) {
	t.Setenv("ETCD_BIN", "/bin/sh")
	if got := EtcdBinary(t); got != "/bin/sh" {
		t.Fatalf("EtcdBinary = %q, want $ETCD_BIN", got)
	}
}
