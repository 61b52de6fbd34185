// Command gendoc writes the table of settings in docs/configuration.md from
// config.Options. It replaces only the lines between the page's two marker
// comments (Begin and End); the prose around them is kept as written.
//
// Run it with `make docs`, or `go generate ./internal/config`.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
)

func main() {
	page := flag.String("page", "docs/configuration.md", "the configuration page to update")
	flag.Parse()
	if err := run(*page); err != nil {
		fmt.Fprintf(os.Stderr, "gendoc: %v\n", err)
		os.Exit(1)
	}
}

// run updates page in place, and leaves it untouched when it is current.
func run(page string) error {
	old, err := os.ReadFile(page)
	if err != nil {
		return fmt.Errorf("read page: %w", err)
	}
	updated, err := update(old)
	if err != nil {
		return fmt.Errorf("update %s: %w", page, err)
	}
	if bytes.Equal(old, updated) {
		return nil
	}
	if err := os.WriteFile(page, updated, 0o644); err != nil {
		return fmt.Errorf("write page: %w", err)
	}
	return nil
}
