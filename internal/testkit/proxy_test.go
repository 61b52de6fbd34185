package testkit

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// backend is a stand-in Vault: sys/init answers with secrets, every other
// path with "ok".
func backend(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/sys/init" && r.Method == http.MethodPut {
			w.Write([]byte(`{"keys":["k1"],"keys_base64":["azE="],"root_token":"hvs.r"}`))
			return
		}
		w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// call sends method to path through px and returns the status and body
// (status 0 when the connection failed).
func call(t *testing.T, px *Proxy, method, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, px.Addr()+path, strings.NewReader("{}"))
	// A new connection a request: the client retries a GET whose reused
	// connection closes without a reply, which would count it twice.
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err.Error()
	}
	return resp.StatusCode, string(raw)
}

func TestProxyCountsAndCaptures(t *testing.T) {
	px := NewProxy(t, backend(t))
	call(t, px, "GET", "/v1/sys/init")
	if code, body := call(t, px, "PUT", "/v1/sys/init"); code != 200 || !strings.Contains(body, "hvs.r") {
		t.Fatalf("forwarded: %d %q", code, body)
	}
	call(t, px, "GET", "/v1/sys/health")
	call(t, px, "GET", "/v1/sys/health")
	for _, c := range []struct {
		method, path string
		want         int
	}{{"PUT", "/v1/sys/init", 1}, {"GET", "/v1/sys/init", 1}, {"", "/v1/sys/init", 2}, {"GET", "", 3}, {"", "/v1/sys/health", 2}, {"", "", 4}} {
		if got := px.Count(c.method, c.path); got != c.want {
			t.Errorf("Count(%q, %q) = %d, want %d", c.method, c.path, got, c.want)
		}
	}
	if got := px.InitReplies(); len(got) != 1 || got[0].RootToken != "hvs.r" || got[0].Keys[0] != "k1" || got[0].KeysB64[0] != "azE=" {
		t.Fatalf("init replies %v", got)
	}
}

func TestProxyModes(t *testing.T) {
	px := NewProxy(t, backend(t))
	cases := []struct {
		mode       Mode
		path, want string
		code       int
	}{
		{Fail500, "/v1/sys/health", "injected failure", 500},
		{Cut, "/v1/sys/health", "", 0},
		{Partial, "/v1/sys/health", "", 0},
		{HealthUninit, "/v1/sys/health", `"initialized":false`, 200},
		{HealthUninit, "/v1/sys/seal-status", "ok", 200},
		{HealthSealed, "/v1/sys/health", `"sealed":true`, 200},
		{InitLie, "/v1/sys/seal-status", `"initialized":false`, 200},
		{Pass, "/v1/sys/health", "ok", 200},
	}
	for _, c := range cases {
		px.SetMode(c.mode)
		code, body := call(t, px, "GET", c.path)
		if code != c.code || (c.want != "" && !strings.Contains(body, c.want)) {
			t.Errorf("mode %d, %s: %d %q", c.mode, c.path, code, body)
		}
	}
	if n := px.Count("", ""); n != len(cases) {
		t.Errorf("%d requests counted, want %d", n, len(cases))
	}
}

func TestProxyRefuseRestoreSlow(t *testing.T) {
	px := NewProxy(t, backend(t))
	px.Refuse()
	if code, _ := call(t, px, "GET", "/v1/sys/health"); code != 0 {
		t.Fatalf("refused: %d", code)
	}
	px.SetMode(Fail500)
	px.Restore()
	if code, _ := call(t, px, "GET", "/v1/sys/health"); code != 200 || px.Mode() != Pass {
		t.Fatalf("restored: %d, mode %d", code, px.Mode())
	}
	if testing.Short() {
		return
	}
	px.SetMode(Slow)
	start := time.Now()
	if code, _ := call(t, px, "GET", "/v1/sys/unseal"); code != 200 || time.Since(start) < SlowDelay {
		t.Fatalf("slow: %d after %v", code, time.Since(start))
	}
	if px.Delayed("/v1/sys/unseal") != 1 || px.Delayed("") != 1 || px.Delayed("/v1/sys/health") != 0 {
		t.Fatalf("delayed %d", px.Delayed(""))
	}
}
