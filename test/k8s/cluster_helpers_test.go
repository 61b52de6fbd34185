//go:build k8scluster

package k8s_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	vault "github.com/hashicorp/vault/api"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// cluster is the single-node cluster of scripts/k8s-cluster.sh (K8S_DIR),
// seen as an operator sees it: kubectl and helm with the admin kubeconfig,
// and Vault's API at each pod's IP, which this host reaches on cni0.
type cluster struct {
	dir, kubeconfig, kubectl, helm string
	cs                             *kubernetes.Clientset
	ns, release                    string
	replicas                       int
}

// newCluster reads K8S_DIR; with no cluster there the test fails (it runs
// only through `make test-k8s`, which starts one, so a missing cluster is a
// broken harness, never a reason to pass).
func newCluster(t *testing.T) *cluster {
	t.Helper()
	dir := os.Getenv("K8S_DIR")
	if dir == "" {
		t.Fatal("K8S_DIR is not set: run this through `make test-k8s` (scripts/test-k8s.sh), which starts the cluster")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{
		dir:        dir,
		kubeconfig: filepath.Join(dir, "admin.kubeconfig"),
		kubectl:    envOr("KUBECTL_BIN", filepath.Join(root, "bin/k8s-1.34.3/kubectl")),
		helm:       envOr("HELM_BIN", filepath.Join(root, "bin/helm-3.22.0/helm")),
		release:    "vault",
		replicas:   3,
	}
	for _, f := range []string{c.kubeconfig, c.kubectl, c.helm} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("cluster harness: %v", err)
		}
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", c.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if c.cs, err = kubernetes.NewForConfig(cfg); err != nil {
		t.Fatal(err)
	}
	return c
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// run runs a command with the admin kubeconfig and returns its stdout; it
// fails the test on a non-zero exit.
func (c *cluster) run(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, err := c.try(bin, args...)
	if err != nil {
		t.Fatalf("%s %s: %v", filepath.Base(bin), strings.Join(args, " "), err)
	}
	return out
}

// try runs a command with the admin kubeconfig. A command that hangs is
// killed after 10 minutes (longer than any --timeout the test gives helm or
// kubectl), so that the test fails with its cleanup run instead of
// panicking at go test's own timeout.
func (c *cluster) try(bin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.kubeconfig)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// exec runs a command in a container of a pod, as an operator would with
// kubectl exec, and returns its stdout without the trailing newline.
func (c *cluster) exec(t *testing.T, pod, container string, args ...string) string {
	t.Helper()
	out := c.run(t, c.kubectl, append([]string{"-n", c.ns, "exec", pod, "-c", container, "--"}, args...)...)
	return strings.TrimRight(out, "\n")
}

func (c *cluster) selector() string { return "app.kubernetes.io/instance=" + c.release }

func (c *cluster) pods(ctx context.Context) ([]corev1.Pod, error) {
	l, err := c.cs.CoreV1().Pods(c.ns).List(ctx, metav1.ListOptions{LabelSelector: c.selector()})
	if err != nil {
		return nil, err
	}
	sort.Slice(l.Items, func(i, j int) bool { return l.Items[i].Name < l.Items[j].Name })
	return l.Items, nil
}

// vaultAt is an API client for the Vault of one pod, straight at its IP.
func vaultAt(ip, token string) (*vault.Client, error) {
	cfg := vault.DefaultConfig()
	cfg.Address = "http://" + ip + ":8200"
	cfg.Timeout = 3 * time.Second
	cfg.MaxRetries = 0
	cfg.HttpClient = &http.Client{Timeout: 3 * time.Second}
	v, err := vault.NewClient(cfg)
	if err != nil {
		return nil, err
	}
	v.SetToken(token)
	return v, nil
}

// nodeState is what one pod's Vault says of itself.
type nodeState struct {
	pod, ip     string
	uid         types.UID
	initialized bool
	sealed      bool
	clusterID   string
	err         error
}

// mustStates is states, failing the test unless every replica has a pod.
func (c *cluster) mustStates(t *testing.T) []nodeState {
	t.Helper()
	states, err := c.states(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(states) != c.replicas {
		t.Fatalf("%d pods, want %d", len(states), c.replicas)
	}
	return states
}

func (c *cluster) states(ctx context.Context) ([]nodeState, error) {
	pods, err := c.pods(ctx)
	if err != nil {
		return nil, err
	}
	var out []nodeState
	for _, p := range pods {
		s := nodeState{pod: p.Name, ip: p.Status.PodIP, uid: p.UID}
		switch {
		case p.DeletionTimestamp != nil:
			s.err = fmt.Errorf("terminating")
		case p.Status.PodIP == "":
			s.err = fmt.Errorf("no IP yet (%s)", p.Status.Phase)
		default:
			v, err := vaultAt(p.Status.PodIP, "")
			if err == nil {
				var st *vault.SealStatusResponse
				if st, err = v.Sys().SealStatusWithContext(ctx); err == nil {
					s.initialized, s.sealed, s.clusterID = st.Initialized, st.Sealed, st.ClusterID
				}
			}
			s.err = err
		}
		out = append(out, s)
	}
	return out, nil
}

// waitUnsealed polls every 200 ms until the StatefulSet has all its pods,
// none of them in gone (the UIDs an event replaced), each with its Vault
// initialized and unsealed, and returns how long that took from start. It
// fails the test when limit has passed since start, saying what each pod's
// Vault last answered.
func (c *cluster) waitUnsealed(t *testing.T, start time.Time, gone map[types.UID]bool, limit time.Duration) time.Duration {
	t.Helper()
	ctx, cancel := context.WithDeadline(context.Background(), start.Add(limit))
	defer cancel()
	var last []nodeState
	var lastErr error
	for {
		states, err := c.states(ctx)
		lastErr = err
		if err == nil {
			last = states
			ok := len(states) == c.replicas
			for _, s := range states {
				if gone[s.uid] || s.err != nil || !s.initialized || s.sealed {
					ok = false
				}
			}
			if ok {
				return time.Since(start)
			}
		}
		select {
		case <-ctx.Done():
			var b strings.Builder
			for _, s := range last {
				fmt.Fprintf(&b, "\n  %s (%s, replaced: %v): initialized=%v sealed=%v err=%v", s.pod, s.ip, gone[s.uid], s.initialized, s.sealed, s.err)
			}
			c.dumpLogs(t)
			t.Fatalf("not every pod unsealed within %v (last list error: %v):%s", limit, lastErr, b.String())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// dumpLogs logs the tail of every container's log, for a failure.
func (c *cluster) dumpLogs(t *testing.T) {
	t.Helper()
	pods, err := c.pods(context.Background())
	if err != nil {
		t.Logf("list pods: %v", err)
		return
	}
	for _, p := range pods {
		for _, ctr := range []string{"vault", "vault-init"} {
			out, _ := c.try(c.kubectl, "-n", c.ns, "logs", p.Name, "-c", ctr, "--tail=15")
			t.Logf("--- %s/%s:\n%s", p.Name, ctr, out)
		}
	}
}

// uids returns the UIDs of the pods now.
func (c *cluster) uids(t *testing.T) map[types.UID]bool {
	t.Helper()
	pods, err := c.pods(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m := map[types.UID]bool{}
	for _, p := range pods {
		m[p.UID] = true
	}
	return m
}

// active returns the pod whose Vault is the active node, and a client for
// it. After every pod restarted, the unsealed nodes still have to elect a
// leader, so it polls for up to a minute.
func (c *cluster) active(t *testing.T, token string) (string, *vault.Client) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(time.Minute)
	for {
		states, err := c.states(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range states {
			if s.err != nil {
				continue
			}
			v, err := vaultAt(s.ip, token)
			if err != nil {
				t.Fatal(err)
			}
			if h, err := v.Sys().HealthWithContext(ctx); err == nil && h.Initialized && !h.Sealed && !h.Standby {
				return s.pod, v
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no active Vault node among %d pods after a minute", len(states))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// figures collects the durations the test measured, printed as FIGURE lines
// at the end (scripts/test-k8s.sh puts them into BENCHMARKS.md through
// scripts/figures.sh: no colon in a value).
type figures struct {
	names []string
	d     map[string][]time.Duration
}

func (f *figures) add(name string, d time.Duration) {
	if f.d == nil {
		f.d = map[string][]time.Duration{}
	}
	if _, ok := f.d[name]; !ok {
		f.names = append(f.names, name)
	}
	f.d[name] = append(f.d[name], d)
}

func (f *figures) print() {
	for _, n := range f.names {
		v := append([]time.Duration(nil), f.d[n]...)
		sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
		var all []string
		for _, d := range f.d[n] {
			all = append(all, d.Round(100*time.Millisecond).String())
		}
		// The median; of an even count, the mean of the middle two.
		p50 := v[len(v)/2]
		if len(v)%2 == 0 {
			p50 = (v[len(v)/2-1] + v[len(v)/2]) / 2
		}
		fmt.Printf("FIGURE %s: n=%d min=%v p50=%v max=%v (runs %s)\n", n, len(v),
			v[0].Round(100*time.Millisecond), p50.Round(100*time.Millisecond),
			v[len(v)-1].Round(100*time.Millisecond), strings.Join(all, ", "))
	}
}
