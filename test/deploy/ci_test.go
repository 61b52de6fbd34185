package deploy

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// recipe returns the recipe lines of a Makefile target.
func recipe(t *testing.T, target string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repo, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(target) + `:.*\n((?:\t.*\n)*)`).FindStringSubmatch(string(raw))
	if m == nil {
		t.Fatalf("no target %s in the Makefile", target)
	}
	return m[1]
}

// TestLintVetsBothBuilds: test/faults and internal/faultinject/faultinject_on.go
// build only with -tags faultinject; `make lint` must vet them too.
func TestLintVetsBothBuilds(t *testing.T) {
	lint := recipe(t, "lint")
	for _, want := range []string{"gofmt -l", "vet ./...", "vet -tags faultinject ./..."} {
		if !strings.Contains(lint, want) {
			t.Errorf("make lint does not run %q:\n%s", want, lint)
		}
	}
}

// TestCIRunsComposeV2: users run `docker compose` (v2), so CI installs it
// before the e2e; v1 stays only as the Makefile's fallback.
func TestCIRunsComposeV2(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repo, ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	ci := string(raw)
	install, e2e := strings.Index(ci, "scripts/install-compose-v2.sh"), strings.Index(ci, "make e2e")
	if install < 0 || e2e < 0 || install > e2e {
		t.Errorf(".ci/run does not run scripts/install-compose-v2.sh before make e2e")
	}
	if _, err := os.Stat(filepath.Join(repo, "scripts", "install-compose-v2.sh")); err != nil {
		t.Error(err)
	}
}
