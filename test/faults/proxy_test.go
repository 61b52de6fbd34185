//go:build faultinject

package faults

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Proxy modes: how the proxy treats each request.
const (
	pass    int32 = iota // forward to Vault
	cut                  // close the connection without a reply
	partial              // send the start of a reply, then close
	fail500              // answer 500
	slow                 // wait the proxy's delay, then forward
)

// proxy sits between vault-init and Vault, misbehaves on demand, and counts
// every request it sees, by path.
type proxy struct {
	t      *testing.T
	target *url.URL
	port   int
	mode   atomic.Int32
	delay  time.Duration

	mu    sync.Mutex
	srv   *http.Server
	paths map[string]int
	puts  map[string]int
	total int
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{t: t, target: u, paths: map[string]int{}, puts: map[string]int{}, delay: 5 * time.Second}
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
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.paths[r.URL.Path]++
		if r.Method == http.MethodPut || r.Method == http.MethodPost {
			p.puts[r.URL.Path]++
		}
		p.total++
		p.mu.Unlock()
		switch p.mode.Load() {
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
