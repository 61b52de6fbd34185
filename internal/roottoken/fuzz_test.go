package roottoken

import (
	"context"
	"testing"
	"time"

	"github.com/aurora/vault-init/internal/vaulttest"
)

// memNonces keeps the nonce record in memory.
type memNonces struct{ nonce string }

func (m *memNonces) SaveNonce(n string) error   { m.nonce = n; return nil }
func (m *memNonces) LoadNonce() (string, error) { return m.nonce, nil }
func (m *memNonces) ClearNonce() error          { m.nonce = ""; return nil }

// FuzzGenerateRootReplies serves arbitrary replies to the generate-root
// calls: Generate must never panic or hang, must never cancel an attempt
// that is not its own, and returns a token only from a complete attempt.
func FuzzGenerateRootReplies(f *testing.F) {
	f.Add(200, []byte(`{"started":false}`), []byte(`{"started":true,"nonce":"n","otp":"abcd","required":1}`), []byte(`{"complete":true,"encoded_token":"AAAAAA"}`))
	f.Add(200, []byte(`{"started":true,"nonce":"other","progress":1,"required":3}`), []byte(`{}`), []byte(`{}`))
	f.Add(200, []byte(`null`), []byte(`{"otp":""}`), []byte(`{"complete":true}`))
	f.Add(200, []byte(`{"started":false}`), []byte(`{"nonce":"n","otp":"x"}`), []byte(`{"complete":true,"encoded_token":"!!"}`))
	f.Add(500, []byte(``), []byte(``), []byte(``))
	f.Fuzz(func(t *testing.T, code int, status, start, update []byte) {
		code = vaulttest.FuzzCode(code)
		cancels := 0
		c := vaulttest.Replies(t, "", func(method, path string) (int, []byte) {
			switch {
			case path == "/v1/sys/generate-root/attempt" && method == "GET":
				return code, status
			case path == "/v1/sys/generate-root/attempt" && method == "DELETE":
				cancels++
				return code, nil
			case path == "/v1/sys/generate-root/attempt":
				return code, start
			case path == "/v1/sys/generate-root/update":
				return code, update
			}
			return 404, nil
		})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		tok, err := Generate(ctx, c.Sys(), &memNonces{}, []string{"k0", "k1", "k2"})
		if err == nil && tok == "" {
			t.Fatal("Generate returned no token and no error")
		}
		if cancels > 0 {
			// No attempt is recorded as vault-init's: whatever runs is someone else's.
			t.Fatalf("cancelled an attempt that is not vault-init's (%d cancels)", cancels)
		}
		if err == nil && code >= 400 {
			t.Fatalf("HTTP %d everywhere, and Generate returned a token", code)
		}
	})
}
