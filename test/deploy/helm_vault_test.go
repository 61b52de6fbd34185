package deploy

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aurora/vault-init/internal/vaulttest"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// TestHelmVaultAcceptsConfig: the real Vault server (bin/vault, the version
// the chart deploys) starts with the chart's configuration and the pod's
// environment, for every value set: Raft storage, node id and addresses
// from the environment, the TLS listener. Only what cannot exist outside a
// pod is changed: the listeners move to loopback ports, the data and TLS
// files to a temp dir (with a test certificate).
func TestHelmVaultAcceptsConfig(t *testing.T) {
	bin := vaulttest.Binary(t)
	forEachValueSet(t, func(t *testing.T, vs valueSet, r rendering) {
		dir := t.TempDir()
		port, clusterPort := loopbackPort(t), loopbackPort(t)
		api := fmt.Sprintf("127.0.0.1:%d", port)
		repl := []string{"[::]:8200", api, "[::]:8201", fmt.Sprintf("127.0.0.1:%d", clusterPort),
			`"/vault/data"`, `"` + filepath.Join(dir, "data") + `"`}
		client := &http.Client{Timeout: 5 * time.Second}
		scheme := "http"
		if strings.Contains(only[*corev1.ConfigMap](t, r).Data["vault.hcl"], "tls_cert_file") {
			cert := vaulttest.NewCert(t)
			repl = append(repl, "/vault/tls/tls.crt", cert.CertFile, "/vault/tls/tls.key", cert.KeyFile, "/vault/tls/ca.crt", cert.CAFile)
			client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: caPool(t, cert.CAFile)}}
			scheme = "https"
		}
		config := strings.NewReplacer(repl...).Replace(only[*corev1.ConfigMap](t, r).Data["vault.hcl"])
		if strings.Contains(config, "/vault/") || strings.Contains(config, "[::]") {
			t.Fatalf("a pod path or address is left in the config:\n%s", config)
		}
		file := filepath.Join(dir, "vault.hcl")
		if err := os.WriteFile(file, []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(filepath.Join(dir, "data"), 0o700); err != nil {
			t.Fatal(err)
		}
		// The pod's environment for Vault, with the addresses it would have.
		env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
		domain := fullname + "-internal." + releaseNS + ".svc"
		pod := strings.NewReplacer("$(POD_NAME)."+domain+":8200", api,
			"$(POD_NAME)."+domain+":8201", fmt.Sprintf("127.0.0.1:%d", clusterPort), "$(POD_NAME)", fullname+"-0")
		for _, e := range container(t, only[*appsv1.StatefulSet](t, r).Spec.Template.Spec, "vault").Env {
			if strings.HasPrefix(e.Name, "VAULT_RAFT_") || e.Name == "VAULT_API_ADDR" || e.Name == "VAULT_CLUSTER_ADDR" {
				v := pod.Replace(e.Value)
				if e.Name != "VAULT_RAFT_NODE_ID" && !strings.Contains(v, "127.0.0.1:") {
					t.Fatalf("%s=%s: the pod's name for this node was not replaced by a loopback address", e.Name, v)
				}
				env = append(env, e.Name+"="+v)
			}
		}
		var log vaulttest.Buffer
		cmd := exec.Command(bin, "server", "-config="+file)
		cmd.Env, cmd.Stdout, cmd.Stderr = env, &log, &log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		t.Cleanup(func() {
			cmd.Process.Kill()
			<-exited
			if t.Failed() {
				t.Logf("vault server log:\n%s", log.String())
			}
		})
		status := waitSealStatus(t, client, scheme+"://"+api, exited)
		if status.Type != "shamir" || status.Initialized || !status.Sealed || status.StorageType != "raft" {
			t.Errorf("seal-status %+v: want an uninitialized, sealed shamir Vault on raft", status)
		}
		for _, e := range env {
			if strings.HasPrefix(e, "VAULT_API_ADDR=") && !strings.Contains(log.String(), strings.TrimPrefix(e, "VAULT_API_ADDR=")) {
				t.Errorf("Vault does not report the api address of %s", e)
			}
		}
	})
}

type sealStatus struct {
	Type        string `json:"type"`
	Initialized bool   `json:"initialized"`
	Sealed      bool   `json:"sealed"`
	StorageType string `json:"storage_type"`
}

// waitSealStatus polls sys/seal-status until Vault answers, the process
// exits, or a minute passes (a start takes about a second).
func waitSealStatus(t *testing.T, client *http.Client, addr string, exited <-chan error) sealStatus {
	t.Helper()
	deadline := time.After(time.Minute)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for {
		resp, err := client.Get(addr + "/v1/sys/seal-status")
		if err == nil {
			var s sealStatus
			err = json.NewDecoder(resp.Body).Decode(&s)
			resp.Body.Close()
			if err == nil && resp.StatusCode == http.StatusOK {
				return s
			}
			err = fmt.Errorf("status %d: %v", resp.StatusCode, err)
		}
		lastErr = err
		select {
		case err := <-exited:
			t.Fatalf("vault server exited: %v", err)
		case <-deadline:
			t.Fatalf("vault server did not answer within a minute: %v", lastErr)
		case <-t.Context().Done():
			t.Fatal(t.Context().Err())
		case <-tick.C:
		}
	}
}

func caPool(t *testing.T, file string) *x509.CertPool {
	t.Helper()
	pem, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in %s", file)
	}
	return pool
}

// loopbackPort returns a port that was free on 127.0.0.1 a moment ago.
func loopbackPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
