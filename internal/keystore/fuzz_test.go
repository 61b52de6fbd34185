package keystore

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the keystore decoder. Properties it
// checks that decode does not check by itself: it never panics; an error
// names the file and quotes no string value of the input (any of them could
// be a key share); and what it accepts survives a round trip through encode.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(encode(sample())))
	f.Add([]byte(`{"version":1,"secret_threshold":1,"keys":["k"]}`))
	f.Add([]byte(`{"version":2}`))
	f.Add([]byte(`{"keys":"x"}`))
	f.Add([]byte(`{"version":1,"keys":["a","b"],"keys_base64":["x"],"secret_threshold":2}`))
	f.Add([]byte(`{"version":1,"secret_threshold":"SECRETSHARE-0123456789","keys":["k"]}`))
	f.Add([]byte(`{"version":1,"keys":["a","b"],"keys_base64":["U0VDUkVUU0hBUkUtMDEyMw=="],"secret_threshold":2}`))
	f.Add([]byte(`{"version":1,"keys":[12345678901234567890],"root_token":{"hvs.ROOTTOKEN0123":1}}`))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, raw []byte) {
		d, err := decode("/vault-init/init.json", raw)
		if err != nil {
			if !strings.Contains(err.Error(), "/vault-init/init.json") {
				t.Fatalf("error does not name the file: %v", err)
			}
			// The same input with every long string value made of tildes,
			// which no error message of decode's own contains: a tilde run
			// in the error can only be quoted input.
			marked := string(raw)
			for _, v := range stringValues(raw) {
				marked = strings.ReplaceAll(marked, v, strings.Repeat("~", len(v)))
			}
			if _, merr := decode("/vault-init/init.json", []byte(marked)); merr != nil && strings.Contains(merr.Error(), "~~~~~~~~") {
				t.Fatalf("error quotes a value of the input: %v", merr)
			}
			return
		}
		back, err := decode("x", []byte(encode(d)))
		if err != nil || !back.Equal(d) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// stringValues returns the input's JSON strings (values and unknown keys)
// of 8 bytes or more, as far as the input reads as JSON tokens.
func stringValues(raw []byte) []string {
	fields := map[string]bool{}
	for _, f := range reflect.VisibleFields(reflect.TypeOf(InitData{})) {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		fields[name] = true
	}
	var out []string
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	for {
		tok, err := dec.Token()
		if err != nil {
			return out
		}
		if s, ok := tok.(string); ok && len(s) >= 8 && !fields[s] {
			out = append(out, s)
		}
	}
}
