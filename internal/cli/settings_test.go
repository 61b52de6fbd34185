package cli

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/aurora/vault-init/internal/config"
)

// TestFlagsAreTyped: every flag has its option's kind, as --help shows it,
// and only bool flags stand alone.
func TestFlagsAreTyped(t *testing.T) {
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	newSettings().addFlags(fs)
	want := map[config.Kind]string{config.String: "string", config.Bool: "bool", config.Int: "int",
		config.Duration: "duration", config.List: "stringSlice"}
	for _, o := range config.Options {
		f := fs.Lookup(o.Key)
		if o.EnvOnly {
			if f != nil {
				t.Errorf("%s is env-only but has a flag", o.Key)
			}
			continue
		}
		if f == nil {
			t.Errorf("%s has no flag", o.Key)
			continue
		}
		if f.Value.Type() != want[o.Kind] {
			t.Errorf("--%s is a %s flag, want %s", o.Key, f.Value.Type(), want[o.Kind])
		}
		if alone := f.NoOptDefVal == "true"; alone != (o.Kind == config.Bool) {
			t.Errorf("--%s stands alone: %v; it is a %v", o.Key, alone, o.Kind)
		}
	}
}

// TestBoolFlags: each bool flag alone means true, and =true and =false say
// so whatever the environment says.
func TestBoolFlags(t *testing.T) {
	clearEnv(t)
	for _, o := range config.Options {
		if o.Kind != config.Bool {
			continue
		}
		t.Run(o.Key, func(t *testing.T) {
			base := pairedArgs(o.Key, "")
			off := mustLoad(t, base...)
			on := mustLoad(t, append(base, "--"+o.Key)...)
			if reflect.DeepEqual(on, off) {
				t.Fatalf("--%s alone changes nothing", o.Key)
			}
			if c := mustLoad(t, append(base, "--"+o.Key+"=true")...); !reflect.DeepEqual(c, on) {
				t.Fatalf("--%s=true is not --%s", o.Key, o.Key)
			}
			t.Setenv(o.Env, "true")
			if c := mustLoad(t, append(base, "--"+o.Key+"=false")...); !reflect.DeepEqual(c, off) {
				t.Fatalf("--%s=false does not override %s=true", o.Key, o.Env)
			}
		})
	}
}

func mustLoad(t *testing.T, args ...string) config.Config {
	t.Helper()
	c, err := load(t, args...)
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return c
}

// TestBadFlagValueIsAProblem: a flag's value that is not of its kind is
// reported as the same value from the environment is, among the other
// problems, and not by pflag alone.
func TestBadFlagValueIsAProblem(t *testing.T) {
	clearEnv(t)
	for _, tc := range []struct{ key, value, want string }{
		{config.KeySecretShares, "five", `secret-shares: "five" is not a whole number`},
		{config.KeyCheckInterval, "soon", `check-interval: "soon" is not a duration`},
		{config.KeyOnce, "maybe", `once: "maybe" is not true or false`},
	} {
		_, err := load(t, "--"+tc.key+"="+tc.value, "--log-format=xml")
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "log-format:") {
			t.Errorf("--%s=%s: %v, want %q among the problems", tc.key, tc.value, err, tc.want)
		}
	}
}

// TestListFlagRepeats: a list flag given twice adds up.
func TestListFlagRepeats(t *testing.T) {
	clearEnv(t)
	c := mustLoad(t, "--addrs", "http://a:8200", "--addrs", "http://b:8200,http://c:8200")
	if got := strings.Join(c.Addrs, " "); got != "http://a:8200 http://b:8200 http://c:8200" {
		t.Fatalf("addrs %q", got)
	}
}

// TestNotifyNeverEchoed: a bad notification URL, from the flag, the
// environment or the config file, ends the program with exit 2 and a
// message that does not show it; a good one is not shown either.
func TestNotifyNeverEchoed(t *testing.T) {
	clearEnv(t)
	const secret = "T0SECRET0HOOK"
	bad := "https://hooks.example/" + secret + ",,slack:" + secret
	file := writeConfig(t, "c.yaml", "notify: "+bad+"\n")
	for _, tc := range []struct {
		name    string
		env     string
		args    []string
		refused bool // notify is one of the problems
	}{
		{"flag", "", []string{"status", "--notify", bad}, true},
		{"env", bad, []string{"status"}, true},
		{"file", "", []string{"status", "--config", file}, true},
		{"good url with other problems", "https://hooks.example/" + secret, []string{"status", "--log-format=xml"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("VAULT_INIT_NOTIFY", tc.env)
			var out, errOut bytes.Buffer
			if code := Run(context.Background(), tc.args, &out, &errOut); code != ExitUsage {
				t.Fatalf("exit %d, want %d: %s", code, ExitUsage, errOut.String())
			}
			if strings.Contains(out.String()+errOut.String(), secret) {
				t.Fatalf("the URL is shown:\n%s%s", out.String(), errOut.String())
			}
			if got := strings.Contains(errOut.String(), "notify: URL 2 of 3 is empty"); got != tc.refused {
				t.Fatalf("notify refused: %v, want %v:\n%s", got, tc.refused, errOut.String())
			}
		})
	}
}
