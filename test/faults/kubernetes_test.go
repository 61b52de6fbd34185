//go:build faultinject

package faults

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/aurora/vault-init/internal/events"
	"github.com/aurora/vault-init/internal/k8stest"
	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/testkit"
	"github.com/aurora/vault-init/internal/vaulttest"
)

// keysSecret is the chart's default Secret name.
const keysSecret = "vault-init"

// sidecarEnv is what the chart gives each vault-init sidecar, except that
// the API server is reached through a kubeconfig (there is no pod) holding
// a service account token from TokenRequest, bound to the chart's Role.
func sidecarEnv(t *testing.T, k *k8stest.Server, ns string) []string {
	t.Helper()
	k.Grant(t, ns, "vault-init", "vault-init", k8stest.KeystoreRules(keysSecret)...)
	token := k.ServiceAccountToken(t, ns, "vault-init")
	return []string{"VAULT_INIT_KEYSTORE=kubernetes", "VAULT_INIT_K8S_SECRET=" + keysSecret,
		"VAULT_INIT_K8S_NAMESPACE=" + ns, "KUBECONFIG=" + k.Kubeconfig(t, token)}
}

// secretOf reads the keys Secret as the admin; nil when it is absent.
func secretOf(t *testing.T, k *k8stest.Server, ns string) *corev1.Secret {
	t.Helper()
	s, err := k.Core(t).Secrets(ns).Get(t.Context(), keysSecret, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatalf("read the keys Secret: %v", err)
	}
	return s
}

func totalInits(pxs []*testkit.Proxy) int {
	n := 0
	for _, px := range pxs {
		n += countInits(px)
	}
	return n
}

// TestKubernetesInitRace starts three vault-init on one Secret, each in
// front of a fresh Vault of its own, as the sidecars of three pods start.
// Exactly one sys/init reaches any Vault, also when the winner is killed
// (SIGKILL) just before its sys/init or just after the reply: the claim it
// left in the Secret keeps the others from initializing a second Vault.
func TestKubernetesInitRace(t *testing.T) {
	k := k8stest.Start(t)
	for _, tc := range []struct{ name, point string }{
		{"no fault", ""},
		{"winner killed before its sys/init", "before-init"},
		{"winner killed after the init reply", "after-init-reply"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := k.NewNamespace(t)
			env := sidecarEnv(t, k, ns)
			if tc.point != "" {
				// Only the claim's winner reaches these points.
				env = append(env, "VAULT_INIT_FAULT="+tc.point+":kill")
			}
			var srvs []*vaulttest.Server
			var pxs []*testkit.Proxy
			var procs []*proc
			for range 3 {
				srv := vaulttest.Start(t, vaulttest.Options{})
				srvs, pxs = append(srvs, srv), append(pxs, testkit.NewProxy(t, srv.Addr()))
			}
			for i := range srvs {
				procs = append(procs, run(t, pxs[i].Addr(), t.TempDir(), env...))
			}
			knowAll := func() {
				for _, p := range procs {
					for _, px := range pxs {
						p.Knows(px.InitReplies()...)
					}
				}
			}
			if tc.point == "" {
				waitAny(t, procs, "vault is ready", 60*time.Second)
				// Give the losers many checks in which they could go wrong.
				time.Sleep(3 * time.Second)
				knowAll()
				if n := totalInits(pxs); n != 1 {
					t.Fatalf("%d sys/init calls over the three Vaults, want exactly 1", n)
				}
				s := secretOf(t, k, ns)
				if s == nil || len(s.Data[keystore.FileName]) == 0 || len(s.OwnerReferences) != 0 {
					t.Fatalf("the Secret after the init: %v", s)
				}
				return
			}
			winner := waitMarker(t, procs, tc.point, 60*time.Second)
			if _, signaled := procs[winner].Wait(10 * time.Second); !signaled {
				t.Fatal("the winner was not killed at the fault point")
			}
			time.Sleep(3 * time.Second) // the others' chances to init
			knowAll()
			want := 0
			if tc.point == "after-init-reply" {
				want = 1
			}
			if n := totalInits(pxs); n != want {
				t.Fatalf("%d sys/init calls after the winner's death, want %d", n, want)
			}
			s := secretOf(t, k, ns)
			if s == nil || len(s.Data) != 0 || !strings.Contains(strings.Join(annotationValues(s), " "), pxs[winner].Addr()) {
				t.Fatalf("the Secret should hold the dead winner's claim and no keys: %v", s)
			}
			// The winner's sidecar restarts (same pod, same Vault).
			again := run(t, pxs[winner].Addr(), t.TempDir(), sidecarEnv2(env)...)
			if tc.point == "before-init" {
				again.WaitEvent(events.Ready, 60*time.Second)
				if n := totalInits(pxs); n != 1 {
					t.Fatalf("%d sys/init calls after the restart, want exactly 1", n)
				}
				if s := secretOf(t, k, ns); len(s.Data[keystore.FileName]) == 0 {
					t.Fatal("no keys in the Secret after the restarted winner's init")
				}
				knowAll()
				again.Knows(pxs[winner].InitReplies()...)
				return
			}
			// Its Vault is initialized and the keys are lost: it says so
			// and changes nothing.
			again.Knows(pxs[winner].InitReplies()...)
			again.WaitFor("it was initialized by someone else", 30*time.Second)
			time.Sleep(2 * time.Second)
			if n := totalInits(pxs); n != 1 {
				t.Fatalf("%d sys/init calls, want exactly 1", n)
			}
			if s := secretOf(t, k, ns); len(s.Data) != 0 {
				t.Fatal("the Secret was written after the keys were lost")
			}
		})
	}
}

// sidecarEnv2 is env without the fault.
func sidecarEnv2(env []string) []string {
	var out []string
	for _, e := range env {
		if !strings.HasPrefix(e, "VAULT_INIT_FAULT=") {
			out = append(out, e)
		}
	}
	return out
}

func annotationValues(s *corev1.Secret) []string {
	var v []string
	for _, a := range s.Annotations {
		v = append(v, a)
	}
	return v
}

// waitAny waits until one of procs logs substr, and returns its index.
func waitAny(t *testing.T, procs []*proc, substr string, timeout time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		for i, p := range procs {
			if strings.Contains(p.Stderr.String(), substr) {
				return i
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no vault-init logged %q within %v", substr, timeout)
	return -1
}

// waitMarker waits for the FAULTINJECT line of point from any of procs.
func waitMarker(t *testing.T, procs []*proc, point string, timeout time.Duration) int {
	t.Helper()
	return waitAny(t, procs, "FAULTINJECT "+point+" ", timeout)
}

// TestKubernetesAPIUnreachable: the API server does not answer (a listener
// that drops every connection). vault-init says so, sends no sys/init, and
// retries with its capped backoff, not in a loop.
func TestKubernetesAPIUnreachable(t *testing.T) {
	k := k8stest.Start(t) // for a kubeconfig of the real shape; its address is replaced
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	cfg, err := os.ReadFile(k.Kubeconfig(t, "token-of-nobody"))
	if err != nil {
		t.Fatal(err)
	}
	dead := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(dead, []byte(strings.ReplaceAll(string(cfg), k.Host, "https://"+ln.Addr().String())), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := vaulttest.Start(t, vaulttest.Options{})
	px := testkit.NewProxy(t, srv.Addr())
	p := run(t, px.Addr(), t.TempDir(), "VAULT_INIT_KEYSTORE=kubernetes", "VAULT_INIT_K8S_NAMESPACE=default", "KUBECONFIG="+dead)
	p.WaitFor("cannot be reached, to claim the init", 60*time.Second)
	watch := short(30*time.Second, 5*time.Second)
	checksBefore := px.Count("", "/v1/sys/health")
	connsBefore := conns.Load()
	time.Sleep(watch)
	checksAfter := px.Count("", "/v1/sys/health")
	figures.rate("API server connections per minute while it is unreachable", float64(conns.Load()-connsBefore)/watch.Minutes())
	// One health check a round; rounds are spaced by a backoff that starts
	// at 250 ms (200 ms with jitter) and grows to 5 s.
	if checks := checksAfter - checksBefore; checks > int(watch/(200*time.Millisecond))+1 {
		t.Fatalf("%d rounds in %v with the API server unreachable: a hot loop", checks, watch)
	}
	if n := countInits(px); n != 0 {
		t.Fatalf("%d sys/init calls without a keystore to save to", n)
	}
	if srv.Health().Initialized || !p.Running() {
		t.Fatal("vault initialized, or vault-init exited")
	}
}
