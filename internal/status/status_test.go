package status

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aurora/vault-init/internal/keystore"
)

// TestPendingShown: a rekey or migration that a crash left pending in the
// keystore is shown, with the command that settles it, and no key.
func TestPendingShown(t *testing.T) {
	base := &keystore.InitData{Version: keystore.FormatVersion, CreatedAt: time.Now().UTC(), SecretShares: 3, SecretThreshold: 2,
		Keys: []string{"aaaa1111", "bbbb2222", "cccc3333"}, RootToken: "hvs.fake"}
	for _, tc := range []struct {
		pending *keystore.Pending
		want    string
	}{
		{nil, ""},
		{&keystore.Pending{Kind: keystore.PendingRekey, Shares: 2, Threshold: 2, Keys: []string{"dddd4444", "eeee5555"}},
			"a rekey of the unseal keys to 2 shares, threshold 2"},
		{&keystore.Pending{Kind: keystore.PendingSealMigration, SealType: "awskms"}, "a seal migration to awskms"},
	} {
		dir := keystore.New(t.TempDir())
		d := base.Clone()
		d.Pending = tc.pending
		if err := dir.Save(d); err != nil {
			t.Fatal(err)
		}
		r := Gather(context.Background(), nil, dir.Keys, dir, "aurora", "", nil)
		var out bytes.Buffer
		if err := r.Write(&out); err != nil {
			t.Fatal(err)
		}
		got := out.String()
		switch {
		case tc.want == "" && strings.Contains(got, "pending"):
			t.Errorf("nothing pending, and status says:\n%s", got)
		case tc.want != "" && !strings.Contains(got, "  pending      "+tc.want):
			t.Errorf("status does not show %q:\n%s", tc.want, got)
		case strings.Contains(got, "dddd4444") || strings.Contains(got, "aaaa1111"):
			t.Errorf("status shows a key:\n%s", got)
		}
	}
}
