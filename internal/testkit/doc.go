// Package testkit is test support for the tests that run vault-init as a
// program: it builds the binary once per test binary (Binary, BuildAll),
// runs it with its output captured (Start, Proc), waits on its log text or
// on its events (WaitFor, WaitEvent), stops it against the promise of
// StopPromise, scans its output for secrets when the test ends, and puts
// a request-counting, fault-injecting proxy in front of Vault (Proxy).
//
// It is imported only by _test.go files (cmd/vault-init, test/faults,
// test/bench, and in-process tests that want a Proxy); no product package
// may import it. It builds with and without the faultinject tag.
package testkit
