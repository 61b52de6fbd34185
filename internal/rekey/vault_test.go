package rekey

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/vault/api"
)

// TestClean: keys and nonces are cut out of Vault's error text, and a
// *api.ResponseError keeps its type and status code.
func TestClean(t *testing.T) {
	key, nonce := "c2VjcmV0LWtleS1zaGFyZQ", "cef60f59-c985-980c-65d1-48aaec16bee5"
	re := &api.ResponseError{StatusCode: 400, HTTPMethod: "PUT", URL: "http://v/v1/sys/rekey/update",
		Errors: []string{"incorrect nonce supplied; nonce for this rekey operation is \"" + nonce + "\"", "bad key " + key}}
	got := clean(fmt.Errorf("wrapped: %w", re), []string{"other"}, []string{key})
	var back *api.ResponseError
	if !errors.As(got, &back) || back.StatusCode != 400 {
		t.Fatalf("lost the ResponseError: %T %v", got, got)
	}
	if strings.Contains(got.Error(), key) || strings.Contains(got.Error(), nonce) || !strings.Contains(got.Error(), "[redacted]") {
		t.Fatalf("not cleaned: %v", got)
	}
	if re.Errors[1] != "bad key "+key {
		t.Fatal("clean changed the original error")
	}
	plain := clean(errors.New("dial: "+key), []string{key})
	if strings.Contains(plain.Error(), key) {
		t.Fatalf("not cleaned: %v", plain)
	}
	if e := errors.New("nothing to hide"); clean(e) != e {
		t.Fatal("an error with nothing to hide was replaced")
	}
}
