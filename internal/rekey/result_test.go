package rekey_test

import (
	"testing"

	"github.com/aurora/vault-init/internal/rekey"
)

// TestResultString: what `vault-init rekey` prints, with and without an
// interrupted rekey settled first.
func TestResultString(t *testing.T) {
	for _, tc := range []struct {
		name string
		res  rekey.Result
		want string
	}{
		{"unseal keys", rekey.Result{Node: "http://v:8200", Keystore: "/data/keys.json", OldShares: 5, OldThreshold: 3, Shares: 4, Threshold: 2},
			"rekeyed the unseal keys of http://v:8200: 4 shares, threshold 2 (were 5 shares, threshold 3)\n" +
				"/data/keys.json holds the new keys; the old ones no longer work"},
		{"recovery keys, settled first", rekey.Result{Node: "n", Keystore: "k", Recovery: true, OldShares: 3, OldThreshold: 2, Shares: 3, Threshold: 2, Settled: "the old keys stay"},
			"first settled an interrupted rekey: the old keys stay\n" +
				"rekeyed the recovery keys of n: 3 shares, threshold 2 (were 3 shares, threshold 2)\n" +
				"k holds the new keys; the old ones no longer work"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.res.String(); got != tc.want {
				t.Fatalf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}
