package deploy

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// The stacks a user starts: `make prod-local`, `make prod-local AGE=1` and
// `make ha-up`.
var stacks = map[string][]string{
	"single": {"docker-compose.yml"},
	"age":    {"docker-compose.yml", "docker-compose.age.yml"},
	"ha":     {"docker-compose.ha.yml"},
}

// loadFiles loads the compose files with env as the only environment (no
// .env file and no OS environment: the tests are hermetic).
func loadFiles(t *testing.T, files []string, env ...string) *types.Project {
	t.Helper()
	var paths []string
	for _, f := range files {
		paths = append(paths, filepath.Join(repo, f))
	}
	if slices.Contains(files, "docker-compose.age.yml") {
		// The age overlay refuses to load without a recipient.
		env = append([]string{"VAULT_INIT_AGE_RECIPIENT=age1example"}, env...)
	}
	opts, err := cli.NewProjectOptions(paths, cli.WithName("aurora-test"), cli.WithWorkingDirectory(repo), cli.WithEnv(env))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("%v does not load: %v", files, err)
	}
	return p
}

// TestComposeNamesFollowPrefix: with VAULT_NAME_PREFIX set (the e2e sets
// it), no container, volume or built image keeps a name of a user's real
// stack, so the e2e can never remove or replace them.
func TestComposeNamesFollowPrefix(t *testing.T) {
	for name, files := range stacks {
		p := loadFiles(t, files, "VAULT_NAME_PREFIX=e2e-")
		for _, s := range p.Services {
			if !strings.HasPrefix(s.ContainerName, "e2e-") {
				t.Errorf("%s: service %s: container_name %q ignores VAULT_NAME_PREFIX", name, s.Name, s.ContainerName)
			}
			if s.Build != nil && !strings.HasPrefix(s.Image, "e2e-") {
				t.Errorf("%s: service %s: built image %q ignores VAULT_NAME_PREFIX", name, s.Name, s.Image)
			}
		}
		for key, v := range p.Volumes {
			if !strings.HasPrefix(v.Name, "e2e-") {
				t.Errorf("%s: volume %s: name %q ignores VAULT_NAME_PREFIX", name, key, v.Name)
			}
		}
	}
	// Unset, the names are the seed's: `docker exec vault ...` and
	// `docker logs vault-init` keep working.
	p := loadFiles(t, stacks["single"])
	if got := service(t, p, "vault-init").Image; got != "vault-init:local" {
		t.Errorf("vault-init image %q, want vault-init:local", got)
	}
}

// TestComposePublishesOnLoopback: Vault's plain-HTTP port is published on
// 127.0.0.1 only, unless VAULT_PUBLISH (HA: VAULT_HA_PUBLISH_1..3) opens it.
func TestComposePublishesOnLoopback(t *testing.T) {
	cases := []struct {
		files   []string
		service string
		env     string
		want    string // host_ip:published
	}{
		{stacks["single"], "vault", "", "127.0.0.1:8200"},
		{stacks["single"], "vault", "VAULT_PUBLISH=0.0.0.0:8200", "0.0.0.0:8200"},
		{stacks["single"], "vault", "VAULT_PUBLISH=127.0.0.1:18200", "127.0.0.1:18200"},
		{stacks["ha"], "vault-1", "", "127.0.0.1:8200"},
		{stacks["ha"], "vault-2", "", "127.0.0.1:8210"},
		{stacks["ha"], "vault-3", "", "127.0.0.1:8220"},
		{stacks["ha"], "vault-2", "VAULT_HA_PUBLISH_2=0.0.0.0:8210", "0.0.0.0:8210"},
	}
	for _, tc := range cases {
		s := service(t, loadFiles(t, tc.files, tc.env), tc.service)
		if len(s.Ports) != 1 || s.Ports[0].Target != 8200 || s.Ports[0].HostIP+":"+s.Ports[0].Published != tc.want {
			t.Errorf("%v %s with %q: ports %+v, want %s->8200", tc.files, tc.service, tc.env, s.Ports, tc.want)
		}
	}
	for name, files := range stacks {
		for _, s := range loadFiles(t, files).Services {
			for _, port := range s.Ports {
				if port.HostIP != "127.0.0.1" {
					t.Errorf("%s: %s publishes %s on %q by default", name, s.Name, port.Published, port.HostIP)
				}
			}
		}
	}
}

// TestComposeStopGracePeriod: `docker stop vault-init` during a sys/init
// must not kill it before the init (bounded by watch.InitTimeout) returns
// and the keys are saved; Docker's default is 10 s.
func TestComposeStopGracePeriod(t *testing.T) {
	initTimeout := constDuration(t, "internal/watch/watch.go", "InitTimeout")
	want := initTimeout + 10*time.Second
	for name, files := range stacks {
		s := service(t, loadFiles(t, files), "vault-init")
		if s.StopGracePeriod == nil || time.Duration(*s.StopGracePeriod) < want {
			t.Errorf("%s: vault-init stop_grace_period %v, want at least %v (InitTimeout %v and the save)", name, s.StopGracePeriod, want, initTimeout)
		}
	}
}

// TestBackupsStayOutOfGitAndImages: the backup docs write to backups/.
func TestBackupsStayOutOfGitAndImages(t *testing.T) {
	for file, want := range map[string]string{".gitignore": "/backups/", ".dockerignore": "backups"} {
		raw, err := os.ReadFile(filepath.Join(repo, file))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains("\n"+string(raw)+"\n", "\n"+want+"\n") {
			t.Errorf("%s has no line %q", file, want)
		}
	}
}
