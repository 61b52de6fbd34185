package testkit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/aurora/vault-init/internal/keystore"
)

// Proxy sits between vault-init and a Vault on a loopback port. It counts
// every request it sees by method and path, keeps the secrets of every
// sys/init reply (for the secret scans: they are the keys even when a
// crash kept them from the keystore), and misbehaves on demand (SetMode,
// Refuse). It is safe for concurrent use; it closes when the test ends.
type Proxy struct {
	t      testing.TB
	target *url.URL
	port   int
	mode   atomic.Int32

	mu      sync.Mutex
	srv     *http.Server
	counts  map[route]int        // requests, by method and path
	delayed map[string]int       // requests held back in Slow mode, by path
	inits   []*keystore.InitData // the secrets of every sys/init reply seen
}

// route is a request's method and path.
type route struct{ method, path string }

// NewProxy starts a Proxy in Pass mode in front of the Vault at target.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatalf("proxy target: %v", err)
	}
	p := &Proxy{t: t, target: u, counts: map[route]int{}, delayed: map[string]int{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy listen: %v", err)
	}
	p.port = ln.Addr().(*net.TCPAddr).Port
	p.serve(ln)
	t.Cleanup(p.Refuse)
	return p
}

// Addr is the proxy's URL, to give vault-init as Vault's address.
func (p *Proxy) Addr() string { return fmt.Sprintf("http://127.0.0.1:%d", p.port) }

// SetMode sets how the proxy treats the requests that follow.
func (p *Proxy) SetMode(m Mode) { p.mode.Store(int32(m)) }

// Mode is the proxy's mode.
func (p *Proxy) Mode() Mode { return Mode(p.mode.Load()) }

func (p *Proxy) serve(ln net.Listener) {
	rp := httputil.NewSingleHostReverseProxy(p.target)
	rp.ModifyResponse = p.capture
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.counts[route{r.Method, r.URL.Path}]++
		p.mu.Unlock()
		mode := p.Mode()
		if mode == Slow {
			p.mu.Lock()
			p.delayed[r.URL.Path]++
			p.mu.Unlock()
			select {
			case <-time.After(SlowDelay):
			case <-r.Context().Done():
				return
			}
		}
		if !mode.misbehave(w, r) {
			rp.ServeHTTP(w, r)
		}
	})}
	p.mu.Lock()
	p.srv = srv
	p.mu.Unlock()
	go srv.Serve(ln)
}

// capture keeps the secrets of a sys/init reply.
func (p *Proxy) capture(resp *http.Response) error {
	if resp.Request.Method != http.MethodPut || resp.Request.URL.Path != "/v1/sys/init" || resp.StatusCode != http.StatusOK {
		return nil
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	var r api.InitResponse
	if err := json.Unmarshal(raw, &r); err != nil {
		p.t.Errorf("sys/init reply does not decode: %v", err)
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.inits = append(p.inits, &keystore.InitData{Keys: r.Keys, KeysB64: r.KeysB64, RootToken: r.RootToken,
		RecoveryKeys: r.RecoveryKeys, RecoveryKeysB64: r.RecoveryKeysB64})
	return nil
}

// InitReplies returns the secrets of every sys/init reply so far.
func (p *Proxy) InitReplies() []*keystore.InitData {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.inits)
}

// Count returns how many requests the proxy has seen with method and path
// so far, whatever it did with them; "" for either matches any.
func (p *Proxy) Count(method, path string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for r, c := range p.counts {
		if (method == "" || r.method == method) && (path == "" || r.path == path) {
			n += c
		}
	}
	return n
}

// Delayed returns how many requests to path were held back in Slow mode
// ("" for all paths).
func (p *Proxy) Delayed(path string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if path != "" {
		return p.delayed[path]
	}
	n := 0
	for _, c := range p.delayed {
		n += c
	}
	return n
}

// Refuse closes the listener: connections are refused until Restore.
func (p *Proxy) Refuse() {
	p.mu.Lock()
	srv := p.srv
	p.srv = nil
	p.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

// Restore listens again on the same port, in Pass mode, or fails the test.
func (p *Proxy) Restore() {
	p.t.Helper()
	p.SetMode(Pass)
	var err error
	for i := 0; i < 100; i++ {
		var ln net.Listener
		if ln, err = net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p.port)); err == nil {
			p.serve(ln)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.t.Fatalf("proxy cannot listen again: %v", err)
}
