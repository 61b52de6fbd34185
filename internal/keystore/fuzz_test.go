package keystore

import (
	"strings"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the keystore decoder: it must never
// panic, never accept data that fails Validate, never echo the content in
// its error, and what it accepts must survive a round trip.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(encode(sample())))
	f.Add([]byte(`{"version":1,"secret_threshold":1,"keys":["k"]}`))
	f.Add([]byte(`{"version":2}`))
	f.Add([]byte(`{"keys":"x"}`))
	f.Add([]byte(`{"version":1,"keys":["a","b"],"keys_base64":["x"],"secret_threshold":2}`))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, raw []byte) {
		d, err := decode("/vault-init/init.json", raw)
		if err != nil {
			if !strings.Contains(err.Error(), "/vault-init/init.json") {
				t.Fatalf("error does not name the file: %v", err)
			}
			// Errors carry no content: a secret-looking value must not come back.
			if len(raw) > 12 && strings.Contains(err.Error(), string(raw)) {
				t.Fatalf("error echoes the input: %v", err)
			}
			return
		}
		if verr := d.Validate(); verr != nil {
			t.Fatalf("decode accepted invalid data: %v", verr)
		}
		back, err := decode("x", []byte(encode(d)))
		if err != nil || !back.Equal(d) {
			t.Fatalf("round trip: %v", err)
		}
	})
}
