package vaulttest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/vault/api"
)

// TransitSeal starts a Vault that serves the transit engine, and returns the
// seal stanza with which another Vault auto-unseals through it, and that
// transit Vault (stop it to make the seal unreachable).
func TransitSeal(t testing.TB) (string, *Server) {
	t.Helper()
	ts, resp := StartUnsealed(t, Options{})
	ctx := context.Background()
	root := ts.Client(resp.RootToken)
	if err := root.Sys().MountWithContext(ctx, "transit", &api.MountInput{Type: "transit"}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.Logical().WriteWithContext(ctx, "transit/keys/autounseal", nil); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf(`seal "transit" {
  address = %q
  token = %q
  key_name = "autounseal"
  mount_path = "transit/"
  disable_renewal = "true"
}
`, ts.Addr(), resp.RootToken), ts
}

// Disabled turns a seal stanza into the same stanza with disabled = "true":
// the form that tells Vault to migrate away from that seal, to Shamir. A
// stanza without a closing brace is returned as it is.
func Disabled(stanza string) string {
	for i := len(stanza) - 1; i >= 0; i-- {
		if stanza[i] == '}' {
			return stanza[:i] + "  disabled = \"true\"\n}\n"
		}
	}
	return stanza
}

// SetExtraConfig replaces what is appended to the server's config file (a
// seal stanza, say). It takes effect at the next Restart; call it while
// the server is stopped.
func (s *Server) SetExtraConfig(extra string) {
	s.t.Helper()
	s.reconfigure(func(o *Options) { o.ExtraConfig = extra })
}

// SetClusterAddr sets the cluster address the server advertises
// (Options.ClusterAddr). It takes effect at the next Restart; call it
// while the server is stopped.
func (s *Server) SetClusterAddr(addr string) {
	s.t.Helper()
	s.reconfigure(func(o *Options) { o.ClusterAddr = addr })
}

// reconfigure changes the options and writes the config file again.
func (s *Server) reconfigure(change func(*Options)) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	change(&s.opts)
	if err := os.WriteFile(filepath.Join(s.Dir, "config.hcl"), []byte(s.config()), 0o600); err != nil {
		s.t.Fatal(err)
	}
}

// RaftVoters is the number of voters in the Raft configuration as s tells
// it (s should be the active node; token may read
// sys/storage/raft/configuration), or 0 when it cannot be read. Followers
// join as non-voters, and autopilot promotes them after about 10 s of
// stable health: only then does a cluster survive losing its leader.
func (s *Server) RaftVoters(token string) int {
	sec, err := s.Client(token).Logical().ReadWithContext(context.Background(), "sys/storage/raft/configuration")
	if err != nil || sec == nil {
		return 0
	}
	cfg, _ := sec.Data["config"].(map[string]any)
	servers, _ := cfg["servers"].([]any)
	n := 0
	for _, srv := range servers {
		if m, _ := srv.(map[string]any); m["voter"] == true {
			n++
		}
	}
	return n
}
