package vaulttest

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"
)

// TestLocalKMSKeepsItsKeyAcrossRestart: a restarted emulator serves the key
// it created before, on the same port, as Restart promises; stopped, it
// answers nothing.
func TestLocalKMSKeepsItsKeyAcrossRestart(t *testing.T) {
	k := StartLocalKMS(t)
	if k.KeyID == "" {
		t.Fatal("no key id")
	}
	if code := describeKey(t, k, k.KeyID); code != http.StatusOK {
		t.Fatalf("DescribeKey of the new key: status %d", code)
	}
	if code := describeKey(t, k, "00000000-0000-0000-0000-000000000000"); code == http.StatusOK {
		t.Fatal("DescribeKey of a key that does not exist: status 200")
	}
	k.Stop()
	if code := describeKey(t, k, k.KeyID); code != 0 {
		t.Fatalf("stopped, it answered %d", code)
	}
	k.Restart()
	if code := describeKey(t, k, k.KeyID); code != http.StatusOK {
		t.Fatalf("DescribeKey after restart: status %d", code)
	}
}

// describeKey returns the status of a KMS DescribeKey call, 0 when the
// emulator does not answer.
func describeKey(t *testing.T, k *LocalKMS, id string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, k.Endpoint()+"/", bytes.NewReader([]byte(fmt.Sprintf(`{"KeyId":%q}`, id))))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amz-Target", "TrentService.DescribeKey")
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}
