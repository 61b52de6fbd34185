//go:build !faultinject

// Package faultinject marks the boundaries between vault-init's phases, so
// that the fault-injection suite (test/faults) can crash, stop or pause the
// program exactly there. In a normal build every Point is an empty function
// that the compiler removes: the released binary holds no trace of it.
// Build with -tags faultinject to arm the points.
package faultinject

// Point marks the boundary name. It does nothing in a normal build.
func Point(name string) {}
