package testkit

import (
	"fmt"
	"runtime"
	"testing"
)

// recorder is a testing.TB that records a failure instead of failing, and
// keeps the cleanups for the test to run.
type recorder struct {
	testing.TB
	failure  string
	cleanups []func()
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	if r.failure == "" {
		r.failure = fmt.Sprintf(format, args...)
	}
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}
func (r *recorder) Failed() bool     { return r.failure != "" }
func (r *recorder) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }

// run runs f in a goroutine of its own, as Fatalf ends it, and waits.
func (r *recorder) run(f func()) {
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	<-done
}

// cleanup runs the cleanups, the last registered first.
func (r *recorder) cleanup() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.run(r.cleanups[i])
	}
}
