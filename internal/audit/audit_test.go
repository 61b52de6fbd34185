package audit

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/aurora/vault-init/internal/vaulttest"
)

// TestChangedSetting: changing VAULT_INIT_AUDIT after the first setup
// replaces vault-init's device instead of failing for ever with "path
// already in use"; the new file records requests, one device remains, and
// an unchanged setting writes nothing.
func TestChangedSetting(t *testing.T) {
	srv, init := vaulttest.StartUnsealed(t, vaulttest.Options{})
	root := srv.Client(init.RootToken)
	ctx := context.Background()
	dir := t.TempDir()
	first, second := filepath.Join(dir, "first.log"), filepath.Join(dir, "second.log")
	for i, step := range []struct {
		file        string
		wantEnabled bool
	}{{first, true}, {first, false}, {second, true}, {second, false}, {first, true}} {
		enabled, err := Ensure(ctx, root.Sys(), step.file)
		if err != nil {
			t.Fatalf("step %d (%s): %v", i, filepath.Base(step.file), err)
		}
		if enabled != step.wantEnabled {
			t.Fatalf("step %d (%s): enabled %t, want %t", i, filepath.Base(step.file), enabled, step.wantEnabled)
		}
		devices, err := root.Sys().ListAuditWithContext(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(devices) != 1 {
			t.Fatalf("step %d: %d audit devices, want 1: %v", i, len(devices), devices)
		}
		for _, d := range devices {
			if d.Options["file_path"] != step.file {
				t.Fatalf("step %d: the device writes to %s, want %s", i, d.Options["file_path"], step.file)
			}
		}
		marker := "users/marker-" + string(rune('a'+i))
		if _, err := root.Logical().WriteWithContext(ctx, "cubbyhole/"+marker, map[string]any{"v": "1"}); err != nil {
			t.Fatal(err)
		}
		raw, err := os.ReadFile(step.file)
		if err != nil || !strings.Contains(string(raw), marker) {
			t.Fatalf("step %d: %s does not record the request: %v", i, filepath.Base(step.file), err)
		}
	}
}

// fakeVault holds audit devices in memory.
type fakeVault struct {
	devices map[string]*api.Audit
	calls   []string
}

func (f *fakeVault) ListAuditWithContext(context.Context) (map[string]*api.Audit, error) {
	return f.devices, nil
}

func (f *fakeVault) EnableAuditWithOptionsWithContext(_ context.Context, path string, o *api.EnableAuditOptions) error {
	f.calls = append(f.calls, "enable "+path)
	f.devices[path+"/"] = &api.Audit{Type: o.Type, Path: path + "/", Options: o.Options}
	return nil
}

func (f *fakeVault) DisableAuditWithContext(_ context.Context, path string) error {
	f.calls = append(f.calls, "disable "+path)
	delete(f.devices, path+"/")
	return nil
}

func TestReplaceWithoutAGap(t *testing.T) {
	f := &fakeVault{devices: map[string]*api.Audit{
		"vault-init-file/": {Type: "file", Options: map[string]string{"file_path": "/old"}},
		"ops/":             {Type: "syslog"},
	}}
	if _, err := Ensure(context.Background(), f, "/new"); err != nil {
		t.Fatal(err)
	}
	// The new device is on before the old one goes; the operator's own stays.
	want := []string{"enable vault-init-file-b", "disable vault-init-file"}
	if strings.Join(f.calls, ",") != strings.Join(want, ",") {
		t.Fatalf("calls %v, want %v", f.calls, want)
	}
	if f.devices["ops/"] == nil {
		t.Fatal("an audit device vault-init did not enable was removed")
	}
}

func TestGarbledList(t *testing.T) {
	f := &fakeVault{devices: map[string]*api.Audit{"vault-init-file/": nil}}
	if _, err := Ensure(context.Background(), f, "/x"); err == nil {
		t.Fatal("a device listed without a description was taken as fine")
	}
	if len(f.calls) != 0 {
		t.Fatalf("wrote on a garbled reply: %v", f.calls)
	}
}

// FuzzAuditReplies serves arbitrary replies to the audit calls: Ensure must
// never panic, and never report success when listing failed.
func FuzzAuditReplies(f *testing.F) {
	f.Add(200, []byte(`{"data":{"vault-init-file/":{"type":"file","options":{"file_path":"/x"}}}}`), 204)
	f.Add(200, []byte(`{"data":{"vault-init-file/":null}}`), 204)
	f.Add(200, []byte(`{"data":{"a/":{"type":"file","options":null},"vault-init-file/":{},"vault-init-file-b/":{}}}`), 400)
	f.Add(200, []byte(`{"data":null}`), 204)
	f.Add(500, []byte(`{"errors":["boom"]}`), 204)
	f.Add(200, []byte(`[1,2`), 204)
	f.Fuzz(func(t *testing.T, listCode int, list []byte, writeCode int) {
		listCode, writeCode = vaulttest.FuzzCode(listCode), vaulttest.FuzzCode(writeCode)
		c := vaulttest.Replies(t, "t", func(method, path string) (int, []byte) {
			if method == "GET" && path == "/v1/sys/audit" {
				return listCode, list
			}
			return writeCode, nil
		})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := Ensure(ctx, c.Sys(), "/x"); err == nil && listCode >= 400 {
			t.Fatalf("HTTP %d to the list, and Ensure reports success", listCode)
		}
	})
}
