package kvmount

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/aurora/vault-init/internal/vaulttest"
)

// replyClient is an api client whose every request gets code and body.
func replyClient(t *testing.T, code int, body []byte) *api.Client {
	return vaulttest.Replies(t, "t", func(string, string) (int, []byte) { return code, body })
}

// TestGarbledMountReplies: replies the review found to panic the process.
func TestGarbledMountReplies(t *testing.T) {
	for _, body := range []string{
		`{"data":{"aurora/":null}}`,
		`{"aurora/":null}`,
		`{"data":{"aurora/":{"type":"kv","options":null}}}`,
	} {
		t.Run(body, func(t *testing.T) {
			c := replyClient(t, 200, []byte(body))
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := Check(ctx, c.Sys(), "aurora")
			if err == nil {
				t.Fatal("a garbled reply passed the check")
			}
			_, _ = Ensure(ctx, c.Sys(), "aurora") // must not panic; the fake accepts any write
			if err := Check(ctx, OneMount{Client: c, Path: "aurora"}, "aurora"); err == nil {
				t.Fatal("OneMount passed a garbled reply")
			}
		})
	}
}

// FuzzMountReplies serves arbitrary replies to the mount calls: Check and
// Ensure must never panic, and must report a kv v2 mount only when the
// reply said so.
func FuzzMountReplies(f *testing.F) {
	f.Add(200, []byte(`{"data":{"aurora/":{"type":"kv","options":{"version":"2"}}}}`))
	f.Add(200, []byte(`{"data":{"aurora/":null}}`))
	f.Add(200, []byte(`{"data":{"aurora/":{"type":"kv","options":null}}}`))
	f.Add(200, []byte(`{"data":null}`))
	f.Add(200, []byte(`{"type":"kv","options":{"version":"2"}}`))
	f.Add(403, []byte(`{"errors":["permission denied"]}`))
	f.Add(200, []byte(`garbage`))
	f.Fuzz(func(t *testing.T, code int, body []byte) {
		code = vaulttest.FuzzCode(code)
		c := replyClient(t, code, body)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if Check(ctx, c.Sys(), "aurora") == nil && code >= 400 { // the api takes any code below 400 as success
			t.Fatalf("HTTP %d passed the check", code)
		}
		_ = Check(ctx, OneMount{Client: c, Path: "aurora"}, "aurora")
		_, err := Ensure(ctx, c.Sys(), "aurora")
		var wt *WrongTypeError
		if err != nil && !errors.As(err, &wt) && err.Error() == "" {
			t.Fatal("an error without a message")
		}
	})
}
