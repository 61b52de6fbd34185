package kvmount

import (
	"context"
	"errors"
	"testing"

	"github.com/hashicorp/vault/api"
)

type fakeVault struct {
	mounts  map[string]*api.MountOutput
	writes  int
	listErr error
}

func (f *fakeVault) ListMountsWithContext(context.Context) (map[string]*api.MountOutput, error) {
	return f.mounts, f.listErr
}

func (f *fakeVault) MountWithContext(_ context.Context, path string, in *api.MountInput) error {
	if _, ok := f.mounts[path+"/"]; ok {
		return errors.New("path is already in use at " + path + "/")
	}
	f.writes++
	f.mounts[path+"/"] = &api.MountOutput{Type: in.Type, Options: in.Options}
	return nil
}

func (f *fakeVault) TuneMountWithContext(_ context.Context, path string, in api.MountConfigInput) error {
	f.writes++
	f.mounts[path+"/"].Options = in.Options
	return nil
}

func TestEnsure(t *testing.T) {
	cases := []struct {
		name       string
		existing   *api.MountOutput
		want       Action
		wantWrites int
		wantType   bool // a WrongTypeError
	}{
		{"missing", nil, Created, 1, false},
		{"kv v2", &api.MountOutput{Type: "kv", Options: map[string]string{"version": "2"}}, Unchanged, 0, false},
		{"kv v1", &api.MountOutput{Type: "kv", Options: map[string]string{"version": "1"}}, Upgraded, 1, false},
		{"kv without options", &api.MountOutput{Type: "kv"}, Upgraded, 1, false},
		{"generic", &api.MountOutput{Type: "generic"}, Upgraded, 1, false},
		{"transit", &api.MountOutput{Type: "transit"}, "", 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeVault{mounts: map[string]*api.MountOutput{"secret/": {Type: "kv"}}}
			if tc.existing != nil {
				f.mounts["aurora/"] = tc.existing
			}
			got, err := Ensure(context.Background(), f, "aurora")
			var wt *WrongTypeError
			if tc.wantType {
				if !errors.As(err, &wt) || wt.Type != "transit" || f.mounts["aurora/"].Type != "transit" {
					t.Fatalf("err %v, want WrongTypeError and the mount untouched", err)
				}
				return
			}
			if err != nil || got != tc.want || f.writes != tc.wantWrites {
				t.Fatalf("Ensure = %q, %v with %d writes; want %q with %d", got, err, f.writes, tc.want, tc.wantWrites)
			}
			if err := Check(context.Background(), f, "aurora"); err != nil {
				t.Fatalf("Check after Ensure: %v", err)
			}
		})
	}
}

func TestCheckErrors(t *testing.T) {
	f := &fakeVault{mounts: map[string]*api.MountOutput{"v1/": {Type: "kv"}}}
	if err := Check(context.Background(), f, "nope"); !errors.Is(err, ErrMissing) {
		t.Fatalf("missing: %v", err)
	}
	if err := Check(context.Background(), f, "v1"); !errors.Is(err, ErrKVv1) {
		t.Fatalf("v1: %v", err)
	}
	f.listErr = errors.New("permission denied")
	if _, err := Ensure(context.Background(), f, "v1"); err == nil || f.writes != 0 {
		t.Fatalf("list error: %v, %d writes", err, f.writes)
	}
}

func TestEnsureFresh(t *testing.T) {
	f := &fakeVault{mounts: map[string]*api.MountOutput{}}
	if a, err := EnsureFresh(context.Background(), f, "aurora"); err != nil || a != Created || f.writes != 1 {
		t.Fatalf("fresh Vault: %v %v, %d writes", a, err, f.writes)
	}
	// The mount exists after all (a v1 one): EnsureFresh falls back to Ensure.
	f = &fakeVault{mounts: map[string]*api.MountOutput{"aurora/": {Type: "kv", Options: map[string]string{"version": "1"}}}}
	if a, err := EnsureFresh(context.Background(), f, "aurora"); err != nil || a != Upgraded {
		t.Fatalf("existing v1 mount: %v %v", a, err)
	}
	f = &fakeVault{mounts: map[string]*api.MountOutput{"aurora/": {Type: "transit"}}}
	var wt *WrongTypeError
	if _, err := EnsureFresh(context.Background(), f, "aurora"); !errors.As(err, &wt) {
		t.Fatalf("existing transit mount: %v", err)
	}
}
