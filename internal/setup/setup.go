package setup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/hashicorp/vault/api"
	"go.uber.org/zap"
	"k8s.io/utils/clock"

	"github.com/aurora/vault-init/internal/apptoken"
	"github.com/aurora/vault-init/internal/events"
	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/roottoken"
)

// Options is what setup ensures. The caller fills it from config.
type Options struct {
	KVMount       string
	FallbackToken string // VAULT_TOKEN: used only when the keystore has no root token
	// AuditFile, when set, is the file_path of a file audit device to
	// ensure ("stdout" for Vault's own output).
	AuditFile string
	// App, when set, has setup keep the application's policy and its
	// periodic token (beside the keys).
	App *apptoken.Options
	// RevokeRoot revokes the root token once Vault is configured; later
	// setups use a short-lived root token generated from the stored keys.
	RevokeRoot bool
	// Pod, when set, is this pod's name: the banner names where the tokens
	// are instead of printing them into the pod's log.
	Pod string
	// Clock tells the time (of the last app-token renewal); the real
	// clock when nil.
	Clock clock.PassiveClock
	// Events receives StepDone (and StepFailed for a released admin token
	// that could not be revoked); a failed step is Run's *StepError.
	Events *events.Emitter
}

// Keys is what setup needs of the keys vault-init holds (the watch loop's
// keyring.Ring): Load returns the keys in use, from the keystore or the
// copy in memory; Update changes the keystore under its lock, never over
// other keys than those held; the app token is kept beside the keys, and
// LoadAppToken returns keystore.ErrNotFound when there is none.
type Keys interface {
	Path() string
	Load() (*keystore.InitData, error)
	Update(change func(*keystore.InitData)) error
	LoadAppToken() (string, error)
	SaveAppToken(token string) error
	AppTokenPath() string
}

// Node is the node that setup works through: an active node's client
// (setup clones it to carry tokens) and its logger.
type Node struct {
	Addr   string
	Client *api.Client
	Log    *zap.Logger
}

// ErrSetupAgain is Maintain's answer when the app token is gone or no
// longer works: run setup again, which issues a new one.
var ErrSetupAgain = errors.New("the app token is gone or no longer works")

// Setup runs the steps for every node of one vault-init, and remembers
// what it did in this run. It is safe for concurrent use.
type Setup struct {
	opts   Options
	keys   Keys
	nonces roottoken.Nonces // the generate-root nonce record (the data dir)
	log    *zap.Logger
	out    io.Writer // the banner goes here
	clock  clock.PassiveClock

	generating sync.Mutex // held around a generate-root attempt: the nonce record is shared
	progress   progress
}

// New returns a Setup. nonces records vault-init's own generate-root
// attempt; out receives the banner.
func New(opts Options, keys Keys, nonces roottoken.Nonces, log *zap.Logger, out io.Writer) *Setup {
	clk := opts.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &Setup{opts: opts, keys: keys, nonces: nonces, log: log, out: out, clock: clk}
}

// step ensures one thing through a client that carries the admin token.
type step struct {
	name   string // the events' Step
	ensure func(ctx context.Context, n Node, admin *api.Client) error
}

// steps are the steps in the order they run.
func (s *Setup) steps() []step {
	steps := []step{{"kv-mount", s.ensureMount}}
	if s.opts.AuditFile != "" {
		steps = append(steps, step{"audit", s.ensureAudit})
	}
	if s.opts.App != nil {
		steps = append(steps, step{"app-token", s.ensureAppToken})
	}
	return steps
}

// Run sets Vault up through n: every step, through an admin token. Once
// all are done it records so (Done), prints what the operator is owed,
// and calls ready; then it releases the admin token (revoke-root). A
// *roottoken.BusyError says that an operator's generate-root is under way:
// wait, do not count it as a failure.
func (s *Setup) Run(ctx context.Context, n Node, ready func()) error {
	if s.opts.RevokeRoot && s.Done() && s.opts.App != nil {
		// Set up once in this run already, and Vault keeps its setup across
		// restarts: a working app token spares generating a root token.
		if token, err := s.keys.LoadAppToken(); err == nil && s.renewAppToken(ctx, n, token) == nil {
			s.finish("", ready)
			return nil
		}
	}
	token, release, err := s.adminToken(ctx, n)
	if err != nil {
		return err
	}
	defer release()
	admin, err := withToken(n.Client, token)
	if err != nil {
		return err
	}
	for _, st := range s.steps() {
		if err := st.ensure(ctx, n, admin); err != nil {
			return &StepError{Step: st.name, Err: err}
		}
		s.emit(events.StepDone, n, st.name, nil)
	}
	s.finish(token, ready)
	return nil
}

// finish records the setup done, prints what the operator is owed, and
// calls ready.
func (s *Setup) finish(root string, ready func()) {
	s.progress.setDone()
	s.printBanner(root)
	ready()
}

// emit sends a step's event. Only StepDone and a failed revocation of a
// released admin token are sent from here: a failed step is returned as a
// *StepError, which the watch loop reports (once, then every minute) as
// StepFailed.
func (s *Setup) emit(kind events.Kind, n Node, name string, err error) {
	e := events.Event{Kind: kind, Node: n.Addr, Step: name}
	if err != nil {
		e.Error = err.Error()
	}
	s.opts.Events.Emit(e)
}

// StepError is a step that failed: Run's error names the step, so that the
// loop that reports it can say which.
type StepError struct {
	Step string
	Err  error
}

func (e *StepError) Error() string { return e.Err.Error() }
func (e *StepError) Unwrap() error { return e.Err }

// Done reports whether setup succeeded once in this run, through any node.
func (s *Setup) Done() bool { return s.progress.isDone() }

// Initialized records that this run initialized Vault: the setup banner is
// owed, and the mount can be created at once.
func (s *Setup) Initialized() { s.progress.initialized() }

// withToken returns a copy of c that carries token.
func withToken(c *api.Client, token string) (*api.Client, error) {
	c, err := c.Clone()
	if err != nil {
		return nil, fmt.Errorf("clone vault client: %w", err)
	}
	c.SetToken(token)
	return c, nil
}
