// Package deploy checks the container delivery without a Docker engine: the
// compose file through the reference Compose loader, the Dockerfile through
// BuildKit's own parser, and the Vault server config through HCL. It lives in
// its own module so that these test-only dependencies never reach the
// product's go.mod or its image build.
package deploy

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/hashicorp/hcl"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

const repo = "../.."

func load(t *testing.T, env ...string) *types.Project {
	t.Helper()
	return loadFiles(t, stacks["single"], env...)
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, ok := p.Services[name]
	if !ok {
		t.Fatalf("no service %q", name)
	}
	return s
}

func env(s types.ServiceConfig, key string) string {
	if v, ok := s.Environment[key]; ok && v != nil {
		return *v
	}
	return "<unset>"
}

func volume(s types.ServiceConfig, target string) string {
	for _, v := range s.Volumes {
		if v.Target == target {
			return v.Source
		}
	}
	return ""
}

func TestComposeVault(t *testing.T) {
	p := load(t)
	v := service(t, p, "vault")
	if v.ContainerName != "vault" {
		t.Errorf("vault container_name %q", v.ContainerName)
	}
	if !regexp.MustCompile(`^hashicorp/vault:\d+\.\d+\.\d+$`).MatchString(v.Image) {
		t.Errorf("vault image %q is not the official image with a pinned tag", v.Image)
	}
	if got := service(t, load(t, "VAULT_IMAGE=example/vault:9"), "vault").Image; got != "example/vault:9" {
		t.Errorf("VAULT_IMAGE does not override the image (got %q)", got)
	}
	if len(v.Ports) != 1 || v.Ports[0].Target != 8200 || v.Ports[0].Published != "8200" || v.Ports[0].HostIP != "127.0.0.1" {
		t.Errorf("vault ports %+v, want 127.0.0.1:8200:8200", v.Ports)
	}
	if env(v, "VAULT_ADDR") != "http://127.0.0.1:8200" {
		t.Errorf("vault VAULT_ADDR %q", env(v, "VAULT_ADDR"))
	}
	if env(v, "VAULT_TOKEN") != "" {
		t.Errorf("vault VAULT_TOKEN defaults to %q, want empty", env(v, "VAULT_TOKEN"))
	}
	if got := env(service(t, load(t, "VAULT_TOKEN=hvs.x"), "vault"), "VAULT_TOKEN"); got != "hvs.x" {
		t.Errorf("VAULT_TOKEN from .env does not reach the vault container (got %q)", got)
	}
	if volume(v, "/vault/logs") != "vault-logs" {
		t.Errorf("/vault/logs is not the vault-logs volume: %+v", v.Volumes)
	}
	if volume(v, "/vault/data") != "vault-data" {
		t.Errorf("/vault/data is not the vault-data volume: %+v", v.Volumes)
	}
	if v.HealthCheck == nil || len(v.HealthCheck.Test) == 0 {
		t.Error("vault has no healthcheck")
	}
	if !strings.Contains(strings.Join(v.Command, " "), "server") {
		t.Errorf("vault command %q does not start a server", v.Command)
	}
}

func TestComposeVaultInit(t *testing.T) {
	p := load(t)
	s := service(t, p, "vault-init")
	if s.ContainerName != "vault-init" {
		t.Errorf("container_name %q", s.ContainerName)
	}
	if s.Build == nil || filepath.Clean(s.Build.Context) != filepath.Clean(mustAbs(t, repo)) {
		t.Errorf("vault-init is not built from the repository's Dockerfile: %+v", s.Build)
	}
	if volume(s, "/vault-init") != "vault-init" {
		t.Errorf("/vault-init is not the vault-init volume: %+v", s.Volumes)
	}
	// The KV mount and base path default to the seed's in config.Options
	// (TestSeedDefaults); the compose file leaves them unset.
	if env(s, "VAULT_ADDR") != "http://vault:8200" {
		t.Errorf("vault-init VAULT_ADDR = %q, want http://vault:8200", env(s, "VAULT_ADDR"))
	}
	if s.Restart != "unless-stopped" {
		t.Errorf("vault-init restart %q", s.Restart)
	}
	// The healthcheck comes from the image (Dockerfile); compose must not turn it off.
	if s.HealthCheck != nil && s.HealthCheck.Disable {
		t.Error("compose disables vault-init's healthcheck")
	}
	if env(s, "VAULT_INIT_AUDIT") != "" {
		t.Errorf("audit logging must be off unless asked for, got %q", env(s, "VAULT_INIT_AUDIT"))
	}
	for _, name := range []string{"vault-data", "vault-init", "vault-logs"} {
		if v, ok := p.Volumes[name]; !ok || v.Name != name || bool(v.External) {
			t.Errorf("volume %s: %+v, want a managed volume named exactly %s", name, v, name)
		}
	}
}

func mustAbs(t *testing.T, p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

func TestVaultServerConfig(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repo, "deploy", "vault", "vault.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		UI           bool                         `hcl:"ui"`
		DisableMlock bool                         `hcl:"disable_mlock"`
		Storage      map[string]map[string]string `hcl:"storage"`
		Listener     map[string]map[string]any    `hcl:"listener"`
	}
	if err := hcl.Unmarshal(raw, &c); err != nil {
		t.Fatalf("vault.hcl: %v", err)
	}
	if !c.UI || !c.DisableMlock || c.Storage["file"]["path"] != "/vault/data" {
		t.Errorf("vault.hcl: ui %v, disable_mlock %v, storage %v", c.UI, c.DisableMlock, c.Storage)
	}
	tcp := c.Listener["tcp"]
	if tcp["address"] != "0.0.0.0:8200" || tcp["tls_disable"] != true {
		t.Errorf("vault.hcl listener %v", tcp)
	}
}

// instructions parses the Dockerfile and returns its lines by stage.
func instructions(t *testing.T) [][]string {
	t.Helper()
	f, err := os.Open(filepath.Join(repo, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := parser.Parse(f)
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	var stages [][]string
	for _, n := range res.AST.Children {
		line := strings.TrimSpace(strings.ToUpper(n.Value) + " " + strings.Join(append(n.Flags, nodeArgs(n)...), " "))
		if strings.EqualFold(n.Value, "from") || len(stages) == 0 {
			stages = append(stages, nil)
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], line)
	}
	return stages
}

func nodeArgs(n *parser.Node) []string {
	var out []string
	for a := n.Next; a != nil; a = a.Next {
		out = append(out, a.Value)
	}
	for _, c := range n.Children {
		out = append(out, c.Value)
		out = append(out, nodeArgs(c)...)
	}
	return out
}

func TestDockerfile(t *testing.T) {
	stages := instructions(t)
	if len(stages) < 3 {
		t.Fatalf("want a multi-stage build, got %d stages", len(stages)-1)
	}
	all := strings.Join(stages[0], "\n") + "\n" + strings.Join(stages[1], "\n")
	gomod, err := os.ReadFile(filepath.Join(repo, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(string(gomod))[1]
	if !strings.Contains(all, "ARG GO_IMAGE=golang:"+goVersion+"\n") {
		t.Errorf("the build image is not an ARG GO_IMAGE defaulting to golang:%s:\n%s", goVersion, all)
	}
	for _, flag := range []string{"CGO_ENABLED=0", "-trimpath", "-s -w", "cli.Version="} {
		if !strings.Contains(all, flag) {
			t.Errorf("the build stage lacks %q", flag)
		}
	}
	final := strings.Join(stages[len(stages)-1], "\n")
	if !strings.HasPrefix(final, "FROM scratch") && !strings.Contains(final, "distroless/static") {
		t.Errorf("the runtime image is not minimal:\n%s", final)
	}
	user := regexp.MustCompile(`(?m)^USER (\S+)`).FindStringSubmatch(final)
	if user == nil || user[1] == "root" || user[1] == "0" || strings.HasPrefix(user[1], "0:") || strings.HasPrefix(user[1], "root:") {
		t.Errorf("the runtime image does not set a non-root USER:\n%s", final)
	}
	if !regexp.MustCompile(`(?m)^HEALTHCHECK .*vault-init healthcheck`).MatchString(final) {
		t.Errorf("no HEALTHCHECK running vault-init healthcheck:\n%s", final)
	}
	if !strings.Contains(final, "ca-certificates.crt") {
		t.Error("the runtime image has no CA certificates")
	}
	if !regexp.MustCompile(`(?m)^COPY .*--chown=` + regexp.QuoteMeta(strings.Split(user[1], ":")[0]) + `\S* .* /vault-init$`).MatchString(final) {
		t.Errorf("/vault-init is not created owned by the runtime user:\n%s", final)
	}
}

func TestComposeHA(t *testing.T) {
	p := loadFiles(t, stacks["ha"])
	var addrs []string
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("vault-%d", i)
		s := service(t, p, name)
		if s.ContainerName != name || s.Hostname != name || s.HealthCheck == nil {
			t.Errorf("%s: container_name %q hostname %q healthcheck %v", name, s.ContainerName, s.Hostname, s.HealthCheck != nil)
		}
		if volume(s, "/vault/data") != "vault-ha-data-"+fmt.Sprint(i) {
			t.Errorf("%s data volume: %+v", name, s.Volumes)
		}
		addrs = append(addrs, "http://"+name+":8200")

		raw, err := os.ReadFile(filepath.Join(repo, "deploy", "vault", "ha", name+".hcl"))
		if err != nil {
			t.Fatal(err)
		}
		var c struct {
			Storage map[string]struct {
				Path      string `hcl:"path"`
				NodeID    string `hcl:"node_id"`
				RetryJoin []struct {
					Leader string `hcl:"leader_api_addr"`
				} `hcl:"retry_join"`
			} `hcl:"storage"`
			APIAddr string `hcl:"api_addr"`
		}
		if err := hcl.Unmarshal(raw, &c); err != nil {
			t.Fatalf("%s.hcl: %v", name, err)
		}
		r := c.Storage["raft"]
		if r.NodeID != name || r.Path != "/vault/data" || c.APIAddr != "http://"+name+":8200" || len(r.RetryJoin) != 2 {
			t.Errorf("%s.hcl: raft %+v api_addr %q", name, r, c.APIAddr)
		}
		for _, j := range r.RetryJoin {
			if j.Leader == c.APIAddr {
				t.Errorf("%s joins itself", name)
			}
		}
	}
	vi := service(t, p, "vault-init")
	if got := env(vi, "VAULT_INIT_ADDRS"); got != strings.Join(addrs, ",") {
		t.Errorf("VAULT_INIT_ADDRS %q, want every node: %s", got, strings.Join(addrs, ","))
	}
	if volume(vi, "/vault-init") != "vault-ha-init" {
		t.Errorf("the HA stack must keep its keys apart from the single-node stack's: %+v", vi.Volumes)
	}
}

// TestComposeProductionSettings: the production settings are off unless
// .env turns them on, and the age overlay mounts the identity as a secret,
// apart from the keystore's volume.
func TestComposeProductionSettings(t *testing.T) {
	// Unset in .env, they are empty: config.Options' defaults (off) apply
	// (TestSeedDefaults).
	vi := service(t, load(t), "vault-init")
	for _, key := range []string{"VAULT_INIT_APP_TOKEN", "VAULT_INIT_REVOKE_ROOT", "VAULT_INIT_APP_POLICY"} {
		if got := env(vi, key); got != "" {
			t.Errorf("%s defaults to %q, want empty", key, got)
		}
	}
	vi = service(t, load(t, "VAULT_INIT_APP_TOKEN=true", "VAULT_INIT_REVOKE_ROOT=true"), "vault-init")
	if env(vi, "VAULT_INIT_APP_TOKEN") != "true" || env(vi, "VAULT_INIT_REVOKE_ROOT") != "true" {
		t.Error(".env does not reach VAULT_INIT_APP_TOKEN or VAULT_INIT_REVOKE_ROOT")
	}

	overlay := func(env ...string) (*types.Project, error) {
		opts, err := cli.NewProjectOptions([]string{filepath.Join(repo, "docker-compose.yml"), filepath.Join(repo, "docker-compose.age.yml")},
			cli.WithName("aurora-age-test"), cli.WithWorkingDirectory(repo), cli.WithEnv(env))
		if err != nil {
			return nil, err
		}
		return opts.LoadProject(context.Background())
	}
	if _, err := overlay(); err == nil || !strings.Contains(err.Error(), "VAULT_INIT_AGE_RECIPIENT") {
		t.Errorf("the age overlay loads without a recipient: %v", err)
	}
	p := loadFiles(t, stacks["age"], "VAULT_INIT_AGE_RECIPIENT=age1example")
	vi = service(t, p, "vault-init")
	if env(vi, "VAULT_INIT_AGE_RECIPIENT") != "age1example" || env(vi, "VAULT_INIT_AGE_IDENTITY_FILE") != "/run/secrets/vault-init-age" {
		t.Errorf("age env: %v", vi.Environment)
	}
	if len(vi.Secrets) != 1 || vi.Secrets[0].Source != "vault-init-age" {
		t.Fatalf("vault-init secrets: %+v", vi.Secrets)
	}
	if f := p.Secrets["vault-init-age"].File; !strings.HasSuffix(f, "secrets/vault-init-age.txt") {
		t.Errorf("identity file %q", f)
	}
	if volume(vi, "/vault-init") != "vault-init" {
		t.Error("the overlay changed the keystore volume")
	}
}

// TestDockerignoreKeepsSecretsOut: the build context never carries .env or
// the age identity into an image.
func TestDockerignoreKeepsSecretsOut(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repo, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Fields(string(raw))
	for _, want := range []string{".env", "secrets", "backups"} {
		if !slices.Contains(lines, want) {
			t.Errorf(".dockerignore does not exclude %s", want)
		}
	}
}
