package config

import (
	"strings"
	"testing"
)

// TestKindIsHowParseReads: each option's Kind is the way Parse reads its
// value. A value no kind accepts as a bool, number or duration is refused
// with that kind's own message, and only by the options of that kind; a
// list option is the only one said to be comma-separated.
func TestKindIsHowParseReads(t *testing.T) {
	message := map[Kind]string{
		Bool:     `"x7" is not true or false`,
		Int:      `"x7" is not a whole number`,
		Duration: `"x7" is not a duration`,
	}
	for _, o := range Options {
		_, err := Parse(lookupWith(map[string]string{o.Key: "x7"}))
		got := ""
		if err != nil {
			got = err.Error()
		}
		for kind, m := range message {
			if has := strings.Contains(got, o.Key+": "+m); has != (o.Kind == kind) {
				t.Errorf("%s (kind %v): Parse refuses x7 with %q: %v", o.Key, o.Kind, m, has)
			}
		}
		if list := strings.Contains(o.Usage, "comma-separated"); list != (o.Kind == List) {
			t.Errorf("%s: kind %v, but its usage says comma-separated: %v", o.Key, o.Kind, list)
		}
	}
}

// TestOptionsTable: the table itself is consistent.
func TestOptionsTable(t *testing.T) {
	seen := map[string]bool{}
	for _, o := range Options {
		if seen[o.Key] || seen[o.Env] {
			t.Errorf("%s / %s is listed twice", o.Key, o.Env)
		}
		seen[o.Key], seen[o.Env] = true, true
		if strings.Contains(o.Usage, "`") {
			// pflag takes `name` in a usage as the name of the value in --help.
			t.Errorf("%s: usage has a backquote", o.Key)
		}
		if o.Secret && o.Default != "" {
			t.Errorf("%s: a secret option has a default, which --help and the docs would show", o.Key)
		}
		if o.Kind == Bool && o.Default != "false" {
			t.Errorf("%s: a bool option defaults to %q; --help shows no default for a bool flag, so it must be false", o.Key, o.Default)
		}
	}
}
