package vaulttest

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/hashicorp/vault/api"
)

// Replies is a fake Vault for replies a real server cannot be made to give
// (garbled bodies, odd status codes): it answers each request with what
// reply returns for its method and path. It returns a client for it that carries
// token, with no retries. The server stops when the test ends.
func Replies(t testing.TB, token string, reply func(method, path string) (code int, body []byte)) *api.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, body := reply(r.Method, r.URL.Path)
		w.WriteHeader(code)
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	cfg := api.DefaultConfig()
	cfg.Address, cfg.MaxRetries = srv.URL, 0
	c, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(token)
	return c
}

// FuzzCode folds any fuzzed integer into an HTTP status code, 200 to 599.
func FuzzCode(n int) int { return 200 + (n%400+400)%400 }
