package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestFuzzScriptTellsTheCoordinatorRaceFromFailures runs scripts/fuzz.sh
// with a fake `go` that prints what `go test -fuzz` printed in a CI run
// (or a variant) and exits 1. Only a run as long as its budget, that wrote
// no failing input and failed on nothing but Go's own deadline error
// (golang/go#75804), is not a failure.
func TestFuzzScriptTellsTheCoordinatorRaceFromFailures(t *testing.T) {
	race := "fuzz: elapsed: 11s, execs: 1451 (66/sec), new interesting: 5 (total: 131)\n" +
		"--- FAIL: FuzzAuditReplies (11.03s)\n    context deadline exceeded\nFAIL\nexit status 1\n" +
		"FAIL\tgithub.com/aurora/vault-init/internal/audit\t11.056s\n"
	cases := []struct {
		name, out string
		pass      bool
	}{
		{"the coordinator's race at the deadline", race, true},
		{"a failing input", strings.Replace(race, "    context deadline exceeded\n",
			"    context deadline exceeded\n    Failing input written to testdata/fuzz/FuzzAuditReplies/0123\n", 1), false},
		{"the deadline error before the budget ran out", strings.Replace(race, "(11.03s)", "(3.20s)", 1), false},
		{"another failure", strings.Replace(race, "context deadline exceeded", "panic: index out of range", 1), false},
		{"the deadline error and another failing test", race + "--- FAIL: FuzzAuditReplies/seed#1 (0.00s)\n", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bin := t.TempDir()
			if err := os.WriteFile(filepath.Join(bin, "out"), []byte(c.out), 0o600); err != nil {
				t.Fatal(err)
			}
			fake := "#!/bin/sh\ncat " + filepath.Join(bin, "out") + "\nexit 1\n"
			if err := os.WriteFile(filepath.Join(bin, "go"), []byte(fake), 0o700); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("bash", filepath.Join(repo, "scripts", "fuzz.sh"), "10s", "./internal/audit:FuzzAuditReplies")
			cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
			out, err := cmd.CombinedOutput()
			if pass := err == nil; pass != c.pass {
				t.Fatalf("fuzz.sh passed=%v, want %v:\n%s", pass, c.pass, out)
			}
			if c.pass && !strings.Contains(string(out), "golang/go#75804") {
				t.Errorf("fuzz.sh let the run pass without saying why:\n%s", out)
			}
		})
	}
}
