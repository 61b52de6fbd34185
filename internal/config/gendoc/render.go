package main

import (
	"bytes"
	"errors"
	"strings"

	"github.com/aurora/vault-init/internal/config"
)

// The marker lines around the generated table. Everything outside them is
// the page's own prose, which update keeps.
const (
	Begin = "<!-- BEGIN settings: generated from config.Options (internal/config/config.go) by `make docs`; edit there, not here -->"
	End   = "<!-- END settings -->"
)

// update returns page with the lines between Begin and End replaced by
// the table of config.Options.
func update(page []byte) ([]byte, error) {
	before, rest, ok := bytes.Cut(page, []byte(Begin+"\n"))
	if !ok {
		return nil, errors.New("no line " + Begin)
	}
	_, after, ok := bytes.Cut(rest, []byte(End+"\n"))
	if !ok {
		return nil, errors.New("no line " + End + " after " + Begin)
	}
	var b bytes.Buffer
	b.Write(before)
	b.WriteString(Begin + "\n")
	b.WriteString(table(config.Options))
	b.WriteString(End + "\n")
	b.Write(after)
	return b.Bytes(), nil
}

// table is the Markdown table of opts, one row each, in their order.
func table(opts []config.Option) string {
	var b strings.Builder
	b.WriteString("| env | flag and config key | type | default | meaning |\n")
	b.WriteString("|---|---|---|---|---|\n")
	for _, o := range opts {
		flag := "`--" + o.Key + "`"
		if o.EnvOnly {
			flag = "(none: env only, out of the process list and files)"
		}
		dflt := " "
		if o.Default != "" {
			dflt = " `" + o.Default + "` "
		}
		meaning := escape(o.Usage)
		if o.Doc != "" {
			meaning = sentence(meaning, o.Doc)
		}
		if o.Secret {
			meaning = sentence(meaning, "**Secret**: never shown in messages or output.")
		}
		b.WriteString("| `" + o.Env + "` | " + flag + " | " + o.Kind.String() + " |" + dflt + "| " + meaning + " |\n")
	}
	return b.String()
}

// sentence appends next to text as a sentence of its own.
func sentence(text, next string) string {
	return strings.TrimSuffix(text, ".") + ". " + next
}

// escape makes plain text (a Usage, written for --help) safe in a Markdown
// table cell: a | would end the cell, and <data-dir> would be taken for HTML.
func escape(s string) string {
	return strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;", "*", `\*`, "`", "\\`").Replace(s)
}
