package watch_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aurora/vault-init/internal/vaulttest"
)

// TestStatesThatNeedNoAction: unsealed cluster roles are watched and left
// alone; a removed node and odd replies are reported; nothing is initialized
// or unsealed, and a failing Vault is not hammered.
func TestStatesThatNeedNoAction(t *testing.T) {
	cases := []struct {
		name    string
		code    int
		body    string
		wantLog string
	}{
		{"standby 429", 429, `{"initialized":true,"sealed":false,"standby":true}`, `"state":"standby"`},
		{"dr secondary 472", 472, `{"initialized":true,"sealed":false,"replication_dr_mode":"secondary"}`, `"state":"dr-secondary"`},
		{"performance standby 473", 473, `{"initialized":true,"sealed":false,"standby":true,"performance_standby":true}`, `"state":"performance-standby"`},
		{"standby unhealthy 474", 474, `{"initialized":true,"sealed":false,"standby":true,"ha_connection_healthy":false}`, `"state":"standby-unhealthy"`},
		{"removed 530", 530, `{"initialized":true,"sealed":false,"removed_from_cluster":true}`, "removed from its raft cluster"},
		{"server error 500", 500, `{"errors":["internal error"]}`, "check vault health"},
		{"garbled 200", 200, `{"initialized":tr`, "check vault health"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeVault(map[string]reply{health: {code: tc.code, body: tc.body}})
			srv := httptest.NewServer(f)
			defer srv.Close()
			logs := &vaulttest.Buffer{}
			ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
			defer cancel()
			watchFakes(ctx, t, []string{srv.URL}, t.TempDir(), 50*time.Millisecond, logs)
			out := logs.String()
			if !strings.Contains(out, tc.wantLog) {
				t.Fatalf("logs lack %s:\n%s", tc.wantLog, out)
			}
			if n := f.total() - f.count(health); n > 0 {
				t.Fatalf("%d requests other than sys/health; a node in this state needs none", n)
			}
			// Failed checks are retried from 250 ms capped at the interval
			// (50 ms), with ±20 % jitter; healthy nodes are checked every 50 ms.
			// Either way no more than one check per 40 ms.
			if n := f.count(health); n > 1500/40+2 {
				t.Fatalf("%d health checks in 1.5s at a 50ms interval", n)
			}
			if strings.Count(out, `"msg":"vault state changed"`) != 1 {
				t.Fatalf("the state was logged more than once:\n%s", out)
			}
		})
	}
}

// TestLostConnection: when Vault closes a connection, as the kernel does
// the moment a Vault process dies, the node is checked at once and not a
// check interval later. A server that closes every connection after
// answering costs one check more per interval, not a busy loop.
func TestLostConnection(t *testing.T) {
	const standby = `{"initialized":true,"sealed":false,"standby":true}`
	watchFor := func(t *testing.T, url string, interval, d time.Duration) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		watchFakes(ctx, t, []string{url}, t.TempDir(), interval, &vaulttest.Buffer{})
	}
	t.Run("checked at once", func(t *testing.T) {
		f := newFakeVault(map[string]reply{health: {code: 429, body: standby}})
		srv := httptest.NewServer(f)
		defer srv.Close()
		go func() {
			for f.count(health) == 0 {
				time.Sleep(10 * time.Millisecond)
			}
			srv.CloseClientConnections()
		}()
		watchFor(t, srv.URL, time.Minute, 2*time.Second)
		if n := f.count(health); n != 2 {
			t.Fatalf("%d health checks in 2s at a 1m interval with one connection lost, want 2", n)
		}
	})
	t.Run("closed after every answer", func(t *testing.T) {
		f := newFakeVault(map[string]reply{health: {code: 429, body: standby}})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			f.ServeHTTP(httptest.NewRecorder(), r) // counts it
			conn, buf, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			fmt.Fprintf(buf, "HTTP/1.1 429 Too Many Requests\r\nContent-Length: %d\r\n\r\n%s", len(standby), standby)
			buf.Flush()
		}))
		defer srv.Close()
		watchFor(t, srv.URL, 100*time.Millisecond, 1500*time.Millisecond)
		if n := f.count(health); n > 2*1500/80+2 {
			t.Fatalf("%d health checks in 1.5s at a 100ms interval", n)
		}
	})
}
