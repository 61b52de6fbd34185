package k8sstore_test

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/aurora/vault-init/internal/k8sstore"
	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/keystore/storetest"
)

// A Secret of the name that vault-init did not write (no managed-by label,
// or another tool's) is refused by every method, with an error that names
// it, and is left exactly as it was.
func TestForeignSecretRefused(t *testing.T) {
	for name, labels := range map[string]map[string]string{
		"unlabelled": nil,
		"helm":       {k8sstore.LabelManagedBy: "Helm"},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			before := e.create(labels, map[string][]byte{keystore.FileName: []byte("someone else's")})
			s := e.open()
			keys := keystore.NewKeys(e.open())
			ops := map[string]func() error{
				"Get":                  func() error { _, err := s.Get(keystore.FileName); return err },
				"Get of an absent key": func() error { _, err := s.Get(keystore.AppTokenFileName); return err },
				"Put":                  func() error { return s.Put(keystore.FileName, []byte("mine")) },
				"Delete":               func() error { return s.Delete(keystore.FileName) },
				"Probe":                s.Probe,
				"ClaimInit": func() error {
					_, err := s.ClaimInit("pod-a")
					return err
				},
				"Keys.Load": func() error { _, err := keys.Load(); return err },
				"Keys.Save": func() error { return keys.Save(storetest.Sample()) },
			}
			for op, f := range ops {
				err := f()
				if !errors.Is(err, k8sstore.ErrForeign) || errors.Is(err, keystore.ErrNotFound) {
					t.Errorf("%s = %v, want ErrForeign", op, err)
					continue
				}
				for _, want := range []string{e.ns + "/" + secretName, "exists and was not written by vault-init", "refusing to read or overwrite it"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("%s: %q does not say %q", op, err, want)
					}
				}
			}
			e.unchanged(before)
		})
	}
}

// Garbage in a managed Secret is a keystore that cannot be read, not "no
// keystore"; reading it changes nothing, and a claim sees that keys are
// there (so nobody initializes over them).
func TestGarbledData(t *testing.T) {
	e := newEnv(t)
	before := e.create(managed, map[string][]byte{keystore.FileName: []byte("{\"version\": 1, \"keys\": [\"0a")})
	_, err := keystore.NewKeys(e.open()).Load()
	if err == nil || errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("Load = %v, want an error that is not ErrNotFound", err)
	}
	if want := "secret " + e.ns + "/" + secretName + " key init.json"; !strings.Contains(err.Error(), want) {
		t.Errorf("Load error %q does not name %q", err, want)
	}
	if strings.Contains(err.Error(), "0a") {
		t.Errorf("Load error %q quotes the content", err)
	}
	release, err := e.open().ClaimInit("pod-a")
	if err != nil {
		t.Fatalf("ClaimInit on a Secret with a (garbled) keystore = %v, want nil and a no-op release", err)
	}
	release(false)
	e.unchanged(before)
}

// A token without RBAC gets the API server's 403, which names the verb and
// the resource, from every method; a token that may only get the Secret
// learns from Probe which verb it lacks. Nothing is written.
func TestForbidden(t *testing.T) {
	e := newEnv(t)
	none := e.openAs(e.s.Config(e.s.ServiceAccountToken(t, e.ns, "nobody")), secretName)
	for op, f := range map[string]func() error{
		"Get":       func() error { _, err := none.Get(keystore.FileName); return err },
		"Put":       func() error { return none.Put(keystore.FileName, []byte("x")) },
		"Probe":     none.Probe,
		"ClaimInit": func() error { _, err := none.ClaimInit("pod-a"); return err },
	} {
		err := f()
		if err == nil || errors.Is(err, keystore.ErrNotFound) || !strings.Contains(err.Error(), `cannot get resource "secrets"`) {
			t.Errorf("%s without RBAC = %v, want the 403 naming get and secrets", op, err)
		}
	}

	e.s.Grant(t, e.ns, "reader", "get-only", secretRule(secretName, "get"))
	reader := e.openAs(e.s.Config(e.s.ServiceAccountToken(t, e.ns, "reader")), secretName)
	if err := reader.Probe(); err == nil || !strings.Contains(err.Error(), `cannot create resource "secrets"`) {
		t.Errorf("Probe of an absent Secret with get only = %v, want the 403 naming create", err)
	}
	if _, err := e.admin.Get(t.Context(), secretName, metav1.GetOptions{}); err == nil {
		t.Fatal("the dry-run create made the Secret")
	}
	before := e.create(managed, map[string][]byte{keystore.FileName: []byte("kept")})
	if err := reader.Probe(); err == nil || !strings.Contains(err.Error(), `cannot update resource "secrets"`) {
		t.Errorf("Probe of the Secret with get only = %v, want the 403 naming update", err)
	}
	if err := reader.Put(keystore.AppTokenFileName, []byte("x")); err == nil || !strings.Contains(err.Error(), `cannot update resource "secrets"`) {
		t.Errorf("Put with get only = %v, want the 403 naming update", err)
	}
	e.unchanged(before)
}

// An API server that cannot be reached is an error, not ErrNotFound, and
// comes within the call's bound even when the server never answers.
func TestUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "https://" + l.Addr().String()
	l.Close()
	_, err = open(t, &rest.Config{Host: closed}).Get(keystore.FileName)
	if err == nil || errors.Is(err, keystore.ErrNotFound) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("Get from a closed port = %v, want a connection error", err)
	}

	// A server that accepts and never answers: the call's bound ends it.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { silent.Close() })
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	s := open(t, &rest.Config{Host: "https://" + silent.Addr().String()})
	k8sstore.SetTimeout(s, 300*time.Millisecond)
	start := time.Now()
	for op, f := range map[string]func() error{
		"Get":       func() error { _, err := s.Get(keystore.FileName); return err },
		"Put":       func() error { return s.Put(keystore.FileName, []byte("x")) },
		"ClaimInit": func() error { _, err := s.ClaimInit("pod-a"); return err },
	} {
		if err := f(); err == nil || errors.Is(err, keystore.ErrNotFound) {
			t.Errorf("%s from a silent server = %v, want an error", op, err)
		}
	}
	// Far below the client's own CallTimeout: the per-call bound did it.
	if took := time.Since(start); took >= k8sstore.CallTimeout {
		t.Errorf("three calls to a silent server took %s", took)
	}
}

// A 404 that is not the API server's Status for this Secret (a proxy, a
// URL that is not Kubernetes') is an error, never "no keystore".
func TestForeign404(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	_, err := open(t, &rest.Config{Host: srv.URL}).Get(keystore.FileName)
	if err == nil || errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("Get through a plain 404 = %v, want an error that is not ErrNotFound", err)
	}
}

func open(t *testing.T, cfg *rest.Config) *k8sstore.Secret {
	t.Helper()
	s, err := k8sstore.Open(cfg, "vault", secretName)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
