package setup

import (
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/aurora/vault-init/internal/banner"
)

// progress is what setup did in this run, and what it owes the operator.
type progress struct {
	mu           sync.Mutex
	done         bool      // every step succeeded once, through some node
	initOwed     bool      // this run initialized Vault: the setup banner is owed
	freshTaken   bool      // the mount-at-once of a fresh Vault was tried
	appToken     string    // an app token issued in this run, owed in a banner
	appRenewedAt time.Time // when the app token was last renewed (or issued)
}

func (p *progress) setDone() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done = true
}

func (p *progress) isDone() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done
}

func (p *progress) initialized() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.initOwed = true
}

// takeFresh reports, once, whether this run initialized Vault and has not
// configured it yet: the mount can then be created without a look.
// Retries look first, so that a failed setup does not POST the mount again.
func (p *progress) takeFresh() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	fresh := p.initOwed && !p.freshTaken
	p.freshTaken = true
	return fresh
}

// appIssued records a new app token, owed to the operator in a banner.
func (p *progress) appIssued(token string, at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.appToken, p.appRenewedAt = token, at
}

func (p *progress) setAppRenewed(at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.appRenewedAt = at
}

func (p *progress) appRenewed() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.appRenewedAt
}

// takeOwed returns what the operator is owed, and forgets it.
func (p *progress) takeOwed() (initOwed bool, app string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	initOwed, app = p.initOwed, p.appToken
	p.initOwed, p.appToken = false, ""
	return initOwed, app
}

// printBanner prints what this run owes the operator, once: the banner of
// an init, or that of an app token issued on a later start. root is the
// token that configured Vault (shown only when it is the kept root token).
func (s *Setup) printBanner(root string) {
	// Written without the lock: a stdout that blocks (a full pipe) must not
	// stall the other nodes, or Ready and so /readyz.
	setup, app := s.progress.takeOwed()
	var err error
	switch {
	case s.opts.Pod != "" && (setup || app != ""):
		err = banner.WriteKept(s.out, banner.Kept{Where: s.keys.Path(), Pod: s.opts.Pod, RootRevoked: s.opts.RevokeRoot && setup, App: app != ""})
	case setup:
		err = banner.WriteSetup(s.out, banner.Setup{Root: root, RootRevoked: s.opts.RevokeRoot, App: app})
	case app != "":
		err = banner.WriteAppToken(s.out, app)
	default:
		return
	}
	if err != nil {
		s.log.Error("could not print the banner; show the tokens with `vault-init root-token` and `vault-init app-token`", zap.Error(err))
	}
}
