//go:build faultinject

package faults

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

// Proxy modes: how the proxy treats each request.
const (
	pass    int32 = iota // forward to Vault
	cut                  // close the connection without a reply
	partial              // send the start of a reply, then close
	fail500              // answer 500
	slow                 // wait the proxy's delay, then forward
	// The modes in which Vault's endpoints contradict each other, as
	// behind a balancer over several Vaults; everything else is forwarded.
	healthUninit // sys/health says "not initialized"
	healthSealed // sys/health says "sealed"
	initLie      // sys/health and sys/seal-status say "not initialized"; sys/init goes through
)

// lies are the replies the disagreeing modes put in Vault's place.
var lies = map[int32]map[string]string{
	healthUninit: {"/v1/sys/health": `{"initialized":false,"sealed":true}`},
	healthSealed: {"/v1/sys/health": `{"initialized":true,"sealed":true}`},
	initLie: {"/v1/sys/health": `{"initialized":false,"sealed":true}`,
		"/v1/sys/seal-status": `{"type":"shamir","initialized":false,"sealed":true,"t":0,"n":0,"progress":0}`},
}

// proxy sits between vault-init and Vault, misbehaves on demand, and counts
// every request it sees, by path.
type proxy struct {
	t      *testing.T
	target *url.URL
	port   int
	mode   atomic.Int32
	delay  time.Duration

	mu      sync.Mutex
	srv     *http.Server
	paths   map[string]int
	puts    map[string]int
	total   int
	delayed map[string]int       // requests held back in slow mode, by path
	inits   []*keystore.InitData // the secrets of every sys/init reply seen
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{t: t, target: u, paths: map[string]int{}, puts: map[string]int{}, delayed: map[string]int{}, delay: 5 * time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.port = ln.Addr().(*net.TCPAddr).Port
	p.serve(ln)
	t.Cleanup(p.refuse)
	return p
}

func (p *proxy) addr() string { return fmt.Sprintf("http://127.0.0.1:%d", p.port) }

func (p *proxy) serve(ln net.Listener) {
	rp := httputil.NewSingleHostReverseProxy(p.target)
	rp.ModifyResponse = p.capture
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.paths[r.URL.Path]++
		if r.Method == http.MethodPut || r.Method == http.MethodPost {
			p.puts[r.URL.Path]++
		}
		p.total++
		p.mu.Unlock()
		mode := p.mode.Load()
		if lie, ok := lies[mode][r.URL.Path]; ok && r.Method == http.MethodGet {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(lie)) // 200: vault-init asks sys/health for 299 in every state
			return
		}
		switch mode {
		case cut, partial:
			conn, buf, err := w.(http.Hijacker).Hijack()
			if err != nil {
				return
			}
			if p.mode.Load() == partial {
				buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"initial")
				buf.Flush()
			}
			conn.Close()
		case fail500:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(500)
			w.Write([]byte(`{"errors":["injected failure"]}`))
		case slow:
			p.mu.Lock()
			p.delayed[r.URL.Path]++
			p.mu.Unlock()
			select {
			case <-time.After(p.delay):
			case <-r.Context().Done():
				return
			}
			rp.ServeHTTP(w, r)
		default:
			rp.ServeHTTP(w, r)
		}
	})}
	p.mu.Lock()
	p.srv = srv
	p.mu.Unlock()
	go srv.Serve(ln)
}

// capture keeps the secrets of a sys/init reply, for the secret scans:
// they are the keys even when a crash kept them from the keystore.
func (p *proxy) capture(resp *http.Response) error {
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

// initReplies returns the secrets of every sys/init reply so far.
func (p *proxy) initReplies() []*keystore.InitData {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.inits)
}

// delays returns how many requests to path were held back in slow mode
// ("" for all paths).
func (p *proxy) delays(path string) int {
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

// refuse closes the listener: connections are refused until restore.
func (p *proxy) refuse() {
	p.mu.Lock()
	srv := p.srv
	p.srv = nil
	p.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

// restore listens again on the same port, in pass mode.
func (p *proxy) restore() {
	p.t.Helper()
	p.mode.Store(pass)
	var ln net.Listener
	var err error
	for i := 0; i < 100; i++ {
		if ln, err = net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p.port)); err == nil {
			p.serve(ln)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.t.Fatalf("proxy cannot listen again: %v", err)
}

// requests returns the total so far and the count for one path.
func (p *proxy) requests(path string) (total, forPath int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.total, p.paths[path]
}
