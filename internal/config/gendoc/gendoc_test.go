package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aurora/vault-init/internal/config"
)

// page is the configuration page, from this package's directory.
var page = filepath.Join("..", "..", "..", "docs", "configuration.md")

// TestPageIsCurrent fails when docs/configuration.md's table is not what
// config.Options makes: a setting added, removed or reworded without
// `make docs`.
func TestPageIsCurrent(t *testing.T) {
	old, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	want, err := update(old)
	if err != nil {
		t.Fatalf("docs/configuration.md: %v", err)
	}
	if !bytes.Equal(old, want) {
		t.Fatalf("docs/configuration.md is out of date with config.Options: run `make docs` (or go generate ./internal/config) and commit it\nfirst difference:\n%s",
			firstDiff(string(old), string(want)))
	}
}

// firstDiff shows the first line where got and want differ.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range max(len(g), len(w)) {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return "  page:      " + gl + "\n  generated: " + wl
		}
	}
	return ""
}

// TestUpdateKeepsProse: only the table between the markers changes; the
// prose before and after is kept byte for byte, and a page without the
// markers is refused rather than overwritten.
func TestUpdateKeepsProse(t *testing.T) {
	in := "# Title\n\nbefore\n" + Begin + "\nstale table\n" + End + "\nafter | <b>\n"
	out, err := update([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	if !strings.HasPrefix(s, "# Title\n\nbefore\n"+Begin+"\n| env |") || !strings.HasSuffix(s, "|\n"+End+"\nafter | <b>\n") ||
		strings.Contains(s, "stale") {
		t.Fatalf("update:\n%s", s)
	}
	if again, _ := update(out); !bytes.Equal(again, out) {
		t.Fatal("update is not idempotent")
	}
	for _, bad := range []string{"no markers\n", Begin + "\nno end\n", End + "\n" + Begin + "\n"} {
		if _, err := update([]byte(bad)); err == nil {
			t.Errorf("update accepted %q", bad)
		}
	}
}

// TestTableRows: one row per option, naming its variable, its flag (none
// for an env-only one), its kind and its default, with Markdown escaped.
func TestTableRows(t *testing.T) {
	rows := strings.Split(strings.TrimSpace(table(config.Options)), "\n")[2:]
	if len(rows) != len(config.Options) {
		t.Fatalf("%d rows for %d options", len(rows), len(config.Options))
	}
	for i, o := range config.Options {
		cells := strings.Split(strings.ReplaceAll(rows[i], `\|`, ""), "|")
		for j := range cells {
			cells[j] = strings.TrimSpace(cells[j])
		}
		cells = cells[1 : len(cells)-1]
		if len(cells) != 5 || cells[0] != "`"+o.Env+"`" || cells[2] != o.Kind.String() {
			t.Errorf("row of %s: %q", o.Key, rows[i])
		}
		if hasFlag := cells[1] == "`--"+o.Key+"`"; hasFlag == o.EnvOnly {
			t.Errorf("row of %s: flag cell %q (env only: %v)", o.Key, cells[1], o.EnvOnly)
		}
		if o.Default != "" && cells[3] != "`"+o.Default+"`" {
			t.Errorf("row of %s: default cell %q", o.Key, cells[3])
		}
	}
	if got := escape("a | <data-dir> *x*"); got != `a \| &lt;data-dir&gt; \*x\*` {
		t.Errorf("escape: %q", got)
	}
}
