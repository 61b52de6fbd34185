package k8stest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
)

// The identity behind AdminToken.
const adminUser = "k8stest-admin"

// prepareAPIServer writes what the apiserver's flags name: the service
// account signing key (RSA, generated here) and the token file with the
// admin's token.
func (s *Server) prepareAPIServer() error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return fmt.Errorf("service account key: %w", err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := os.WriteFile(filepath.Join(s.Dir, "sa.key"), keyPEM, 0o600); err != nil {
		return fmt.Errorf("write service account key: %w", err)
	}
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		return fmt.Errorf("admin token: %w", err)
	}
	s.adminToken = hex.EncodeToString(raw)
	// token,user,uid,"group,..."
	line := fmt.Sprintf("%s,%s,%s,\"system:masters\"\n", s.adminToken, adminUser, adminUser)
	if err := os.WriteFile(filepath.Join(s.Dir, "tokens.csv"), []byte(line), 0o600); err != nil {
		return fmt.Errorf("write token file: %w", err)
	}
	return nil
}

// startAPIServer starts kube-apiserver on etcdURL and waits until it is
// ready. It retries with another port when the port was taken meanwhile.
func (s *Server) startAPIServer(ctx context.Context, bin, etcdURL string) error {
	certDir := filepath.Join(s.Dir, "certs")
	saKey := filepath.Join(s.Dir, "sa.key")
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return fmt.Errorf("apiserver port: %w", err)
		}
		p, err := startProc("kube-apiserver", bin, filepath.Join(s.Dir, "kube-apiserver.log"),
			"--etcd-servers="+etcdURL,
			fmt.Sprintf("--secure-port=%d", port),
			"--bind-address=127.0.0.1",
			// Else it looks for a default route, which a sandbox may lack.
			"--advertise-address=127.0.0.1",
			// Writes a self-signed apiserver.crt (serving cert, then its
			// CA) for 127.0.0.1, which clients verify.
			"--cert-dir="+certDir,
			"--token-auth-file="+filepath.Join(s.Dir, "tokens.csv"),
			"--authorization-mode=Node,RBAC",
			"--service-account-issuer=https://kubernetes.default.svc",
			"--service-account-key-file="+saKey,
			"--service-account-signing-key-file="+saKey,
			"--service-cluster-ip-range=10.96.0.0/16",
			// The kubernetes Service's endpoint would be 127.0.0.1, which
			// Endpoints refuse (loopback): without this it logs an error
			// every few seconds.
			"--endpoint-reconciler-type=none",
		)
		if err != nil {
			return err
		}
		s.api = p
		s.Host = fmt.Sprintf("https://127.0.0.1:%d", port)
		err = s.waitReady(ctx, 3*time.Minute)
		if err == nil {
			return nil
		}
		if p.portTaken() && attempt < 3 {
			continue
		}
		p.stop()
		return fmt.Errorf("kube-apiserver did not become ready: %w\n--- kube-apiserver log (last lines)\n%s", err, p.tail(60))
	}
}

// waitReady waits until /readyz answers ok and a Secret can be created
// (the system namespaces and RBAC's bootstrap roles exist only some time
// after the port opens), or the apiserver exits, or timeout passes.
func (s *Server) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		// The apiserver writes its certificate before it listens; read
		// anew each time, in case a read caught it half written.
		if raw, err := os.ReadFile(filepath.Join(s.Dir, "certs", "apiserver.crt")); err != nil {
			last = fmt.Errorf("read serving certificate: %w", err)
		} else {
			s.CAData = raw
			if last = s.probe(ctx); last == nil {
				return nil
			}
		}
		if err := pause(ctx, s.api.exited, 200*time.Millisecond); err != nil {
			return fmt.Errorf("%w (last check: %v)", err, last)
		}
	}
}

// probe checks /readyz, then creates and deletes a Secret in "default".
func (s *Server) probe(ctx context.Context) error {
	cfg := s.AdminConfig()
	cfg.Timeout = 5 * time.Second
	core, err := corev1client.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	if _, err := core.RESTClient().Get().AbsPath("/readyz").DoRaw(ctx); err != nil {
		return fmt.Errorf("readyz: %w", err)
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{GenerateName: "k8stest-probe-"}}
	created, err := core.Secrets("default").Create(ctx, secret, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create probe secret: %w", err)
	}
	if err := core.Secrets("default").Delete(ctx, created.Name, metav1.DeleteOptions{}); err != nil {
		return fmt.Errorf("delete probe secret: %w", err)
	}
	return nil
}

// waitEtcd waits until etcd's /health answers 200, or it exits, or timeout
// passes.
func waitEtcd(ctx context.Context, p *proc, clientURL string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, clientURL+"/health", nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("/health answered %s", resp.Status)
		}
		last = err
		if err := pause(ctx, p.exited, 100*time.Millisecond); err != nil {
			return fmt.Errorf("%w (last check: %v)", err, last)
		}
	}
}

// pause waits for d, and fails early when ctx ends or the process exits.
func pause(ctx context.Context, exited <-chan struct{}, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("gave up: %w", ctx.Err())
	case <-exited:
		return errExited
	case <-timer.C:
		return nil
	}
}
