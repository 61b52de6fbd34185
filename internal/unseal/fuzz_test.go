package unseal

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"go.uber.org/zap"
)

// FuzzUnsealReplies serves arbitrary replies to seal-status and unseal:
// Unseal must never panic or hang, submits no more keys than it has, and
// reports success only when a reply said sealed=false.
func FuzzUnsealReplies(f *testing.F) {
	f.Add(200, []byte(`{"initialized":true,"sealed":true,"t":3,"progress":0}`), 200, []byte(`{"sealed":false}`))
	f.Add(200, []byte(`{"initialized":true,"sealed":true,"t":3,"progress":2}`), 400, []byte(`{"errors":["bad key"]}`))
	f.Add(200, []byte(`{"initialized":true,"sealed":true}`), 200, []byte(`{"sealed":true,"progress":0}`))
	f.Add(200, []byte(`{"sealed":true,"initialized":false}`), 200, []byte(`garbage`))
	f.Add(503, []byte(``), 200, []byte(`{}`))
	f.Fuzz(func(t *testing.T, statusCode int, status []byte, unsealCode int, reply []byte) {
		fix := func(c int) int { return 200 + (c%400+400)%400 }
		submits := 0
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/v1/sys/unseal" {
				submits++
				w.WriteHeader(fix(unsealCode))
				w.Write(reply)
				return
			}
			w.WriteHeader(fix(statusCode))
			w.Write(status)
		}))
		defer srv.Close()
		cfg := api.DefaultConfig()
		cfg.Address, cfg.MaxRetries = srv.URL, 0
		c, err := api.NewClient(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		keys := []string{"k0", "k1", "k2"}
		n, err := (&Unsealer{Vault: c.Sys(), Log: zap.NewNop()}).Unseal(ctx, keys)
		if n > 2*len(keys) || submits > 2*len(keys) {
			t.Fatalf("%d keys submitted (%d requests) for %d stored keys", n, submits, len(keys))
		}
		if err == nil && n > 0 {
			// Success after submitting: some reply must have said unsealed.
			var st api.SealStatusResponse
			if jsonErr := decodeJSON(reply, &st); jsonErr != nil || st.Sealed {
				t.Fatalf("reported unsealed, but the unseal reply said otherwise: %q", reply)
			}
		}
	})
}
