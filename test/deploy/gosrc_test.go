package deploy

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// The product's own tables, read from its source: test/deploy is a module of
// its own (its test-only dependencies must not reach the product's go.mod),
// so it parses the files instead of importing the packages.

// option is one entry of config.Options, as far as the compose files care.
type option struct{ Env, Default string }

// configOptions parses internal/config/config.go and returns the entries of
// its Options table.
func configOptions(t *testing.T) []option {
	t.Helper()
	f := parseGo(t, "internal/config/config.go")
	consts := stringConsts(f)
	var opts []option
	ast.Inspect(f, func(n ast.Node) bool {
		spec, ok := n.(*ast.ValueSpec)
		if !ok || len(spec.Names) != 1 || spec.Names[0].Name != "Options" || len(spec.Values) != 1 {
			return true
		}
		list, ok := spec.Values[0].(*ast.CompositeLit)
		if !ok {
			t.Fatal("config.Options is not a composite literal")
		}
		for _, elt := range list.Elts {
			opts = append(opts, option{Env: field(t, elt, "Env", consts), Default: field(t, elt, "Default", consts)})
		}
		return false
	})
	if len(opts) == 0 {
		t.Fatal("no entries found in config.Options")
	}
	return opts
}

// stringConsts returns the file's constants that are string literals, by name.
func stringConsts(f *ast.File) map[string]string {
	consts := map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		spec, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, id := range spec.Names {
			if i >= len(spec.Values) {
				break
			}
			if lit, ok := spec.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if v, err := strconv.Unquote(lit.Value); err == nil {
					consts[id.Name] = v
				}
			}
		}
		return true
	})
	return consts
}

// field returns the string of the key in an Option literal: a string literal,
// or a string constant of the same file ("" when the key is left out, as Go's
// zero value would be).
func field(t *testing.T, elt ast.Expr, key string, consts map[string]string) string {
	t.Helper()
	lit, ok := elt.(*ast.CompositeLit)
	if !ok {
		t.Fatalf("an element of config.Options is a %T, not an Option literal", elt)
	}
	for _, e := range lit.Elts {
		kv, ok := e.(*ast.KeyValueExpr)
		if !ok || kv.Key.(*ast.Ident).Name != key {
			continue
		}
		if id, ok := kv.Value.(*ast.Ident); ok {
			v, ok := consts[id.Name]
			if !ok {
				t.Fatalf("config.Options: %s is %s, not a string constant of config.go", key, id.Name)
			}
			return v
		}
		s, ok := kv.Value.(*ast.BasicLit)
		if !ok || s.Kind != token.STRING {
			t.Fatalf("config.Options: %s is neither a string literal nor a string constant", key)
		}
		v, err := strconv.Unquote(s.Value)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	return ""
}

// constDuration evaluates the constant name of file, a product of integer
// literals and time units such as `2 * time.Minute`.
func constDuration(t *testing.T, file, name string) time.Duration {
	t.Helper()
	var expr ast.Expr
	ast.Inspect(parseGo(t, file), func(n ast.Node) bool {
		if spec, ok := n.(*ast.ValueSpec); ok {
			for i, id := range spec.Names {
				if id.Name == name && i < len(spec.Values) {
					expr = spec.Values[i]
				}
			}
		}
		return expr == nil
	})
	if expr == nil {
		t.Fatalf("no constant %s in %s", name, file)
	}
	d, ok := evalDuration(expr)
	if !ok {
		t.Fatalf("%s in %s is not a product of literals and time units", name, file)
	}
	return d
}

func evalDuration(e ast.Expr) (time.Duration, bool) {
	units := map[string]time.Duration{"Millisecond": time.Millisecond, "Second": time.Second, "Minute": time.Minute, "Hour": time.Hour}
	switch e := e.(type) {
	case *ast.BasicLit:
		n, err := strconv.ParseInt(e.Value, 0, 64)
		return time.Duration(n), err == nil && e.Kind == token.INT
	case *ast.SelectorExpr:
		d, ok := units[e.Sel.Name]
		return d, ok
	case *ast.ParenExpr:
		return evalDuration(e.X)
	case *ast.BinaryExpr:
		x, okx := evalDuration(e.X)
		y, oky := evalDuration(e.Y)
		return x * y, okx && oky && e.Op == token.MUL
	}
	return 0, false
}

func parseGo(t *testing.T, file string) *ast.File {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(repo, file), nil, 0)
	if err != nil {
		t.Fatalf("parse %s: %v", file, err)
	}
	return f
}
