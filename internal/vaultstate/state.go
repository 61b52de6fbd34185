// Package vaultstate decides, in one place, what state a Vault node is in.
// Every part of vault-init acts on a State rather than on raw health fields
// or status codes, so that a new state is added once.
package vaultstate

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"syscall"

	"github.com/hashicorp/vault/api"
)

// State is the state of one Vault node as sys/health reports it.
type State int

// The states, with the status code sys/health gives each by default.
const (
	Unknown          State = iota // no answer that could be read (see the error)
	Unreachable                   // nothing answers yet: refused, no route, DNS
	Uninitialized                 // 501
	Sealed                        // 503
	Active                        // 200
	Standby                       // 429
	DRSecondary                   // 472
	PerfStandby                   // 473
	StandbyUnhealthy              // 474: a standby that cannot reach the active node
	Removed                       // 530: removed from its Raft cluster
)

var names = map[State]string{
	Unknown: "unknown", Unreachable: "unreachable", Uninitialized: "uninitialized",
	Sealed: "sealed", Active: "active", Standby: "standby", DRSecondary: "dr-secondary",
	PerfStandby: "performance-standby", StandbyUnhealthy: "standby-unhealthy", Removed: "removed",
}

func (s State) String() string {
	if n, ok := names[s]; ok {
		return n
	}
	return "unknown"
}

// Unsealed reports whether the node is initialized and unsealed, whatever
// its role in a cluster.
func (s State) Unsealed() bool {
	switch s {
	case Active, Standby, DRSecondary, PerfStandby, StandbyUnhealthy:
		return true
	}
	return false
}

// Answered reports whether the node gave a readable answer, as opposed to
// not answering (Unreachable) or answering badly (Unknown).
func (s State) Answered() bool {
	return s != Unreachable && s != Unknown
}

// FromHealth reads the state out of a sys/health reply, in the order in
// which Vault itself picks the status code.
func FromHealth(h *api.HealthResponse) State {
	switch {
	case !h.Initialized:
		return Uninitialized
	case h.Sealed:
		return Sealed
	case h.RemovedFromCluster != nil && *h.RemovedFromCluster:
		return Removed
	case h.ReplicationDRMode == "secondary":
		return DRSecondary
	case h.Standby && h.HAConnectionHealthy != nil && !*h.HAConnectionHealthy:
		return StandbyUnhealthy
	case h.PerformanceStandby:
		return PerfStandby
	case h.Standby:
		return Standby
	}
	return Active
}

// FromStatusCode maps a raw sys/health status code to its state. vault-init
// asks Vault to answer 299 for every state, but a proxy in between may drop
// the query string and pass the default codes through as errors.
func FromStatusCode(code int) State {
	switch code {
	case http.StatusOK:
		return Active
	case http.StatusTooManyRequests:
		return Standby
	case 472:
		return DRSecondary
	case 473:
		return PerfStandby
	case 474:
		return StandbyUnhealthy
	case http.StatusNotImplemented:
		return Uninitialized
	case http.StatusServiceUnavailable:
		return Sealed
	case 530:
		return Removed
	}
	return Unknown
}

// HealthChecker is the one Vault call this package needs: the api client's
// Sys().HealthWithContext. It must honour ctx.
type HealthChecker interface {
	HealthWithContext(ctx context.Context) (*api.HealthResponse, error)
}

// Observation is one look at a node.
type Observation struct {
	State  State
	Health *api.HealthResponse // nil unless Vault answered with a readable body
	Err    error               // why the state is Unknown or Unreachable
}

// Observe asks the node for its health and decides its state. It never
// returns an error of its own: a failure is an Observation whose State is
// Unreachable (nothing answers yet) or Unknown (something answered badly).
func Observe(ctx context.Context, hc HealthChecker) Observation {
	h, err := hc.HealthWithContext(ctx)
	if err == nil {
		return Observation{State: FromHealth(h), Health: h}
	}
	var re *api.ResponseError
	if errors.As(err, &re) {
		if s := FromStatusCode(re.StatusCode); s != Unknown && s != Active {
			return Observation{State: s}
		}
		return Observation{State: Unknown, Err: err}
	}
	if NotUpYet(err) {
		return Observation{State: Unreachable, Err: err}
	}
	return Observation{State: Unknown, Err: err}
}

// NotUpYet reports whether err means that nothing is listening at the
// address yet (connection refused or reset, no route, a name that does not
// resolve yet, a timeout), as opposed to something that answered wrongly,
// such as a TLS certificate that does not verify.
func NotUpYet(err error) bool {
	if err == nil {
		return false
	}
	var certErr *x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalidErr x509.CertificateInvalidError
	if errors.As(err, &certErr) || errors.As(err, &hostErr) || errors.As(err, &invalidErr) {
		return false
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return true
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) ||
		errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, io.EOF) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return true
	}
	var opErr *net.OpError
	return errors.As(err, &opErr) && opErr.Op == "dial"
}
