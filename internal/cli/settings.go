package cli

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/aurora/vault-init/internal/config"
)

// MaxConfigFileBytes bounds the config file. A real one is a few hundred
// bytes; a larger one is a mistake (or an attack) and is refused unread.
const MaxConfigFileBytes = 64 << 10

// settings binds every config.Option to a typed flag, an environment
// variable and a config-file key. Precedence: the flag when it was given,
// then viper (never the global one) for the environment, the config file
// and the default.
type settings struct {
	v          *viper.Viper
	flags      map[string]*pflag.Flag // by option key
	configFile string
}

func newSettings() *settings {
	return &settings{v: viper.New(), flags: map[string]*pflag.Flag{}}
}

// addFlags registers the flags of config.Options on fs, each of its
// option's kind, and binds the environment variables and defaults to viper.
func (s *settings) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&s.configFile, "config", "", "config file (YAML, JSON or TOML) with the same keys as the flags")
	for _, o := range config.Options {
		s.v.SetDefault(o.Key, o.Default)
		// BindEnv only fails without arguments.
		_ = s.v.BindEnv(o.Key, o.Env)
		if o.EnvOnly {
			continue
		}
		f := fs.VarPF(&flagValue{kind: o.Kind, text: o.Default}, o.Key, "", fmt.Sprintf("%s (env %s)", o.Usage, o.Env))
		if o.Kind == config.Bool {
			f.NoOptDefVal = "true" // --once alone means --once=true
		}
		s.flags[o.Key] = f
	}
}

// lookup is an option's raw value: the flag's text when the flag was
// given, else viper's (environment, config file, default).
func (s *settings) lookup(key string) string {
	if f := s.flags[key]; f != nil && f.Changed {
		return f.Value.String()
	}
	return s.v.GetString(key)
}

// flagValue is a flag's text, typed for pflag and --help by its option's
// kind (a bool flag takes no argument, a list flag given twice adds up) but
// checked by config.Parse, so that a bad flag is one problem among the
// others of the same message, worded as from any other source. Set never
// fails: pflag would quote the value, and some values are secrets.
type flagValue struct {
	kind config.Kind
	text string
	set  bool
}

// String returns the text as given.
func (v *flagValue) String() string { return v.text }

// Set keeps s; a list given again is appended to (--addrs a --addrs b).
func (v *flagValue) Set(s string) error {
	if v.kind == config.List && v.set {
		s = v.text + "," + s
	}
	v.text, v.set = s, true
	return nil
}

// Type is pflag's name of the kind, which --help shows: the kind's own
// name, but pflag's for a list.
func (v *flagValue) Type() string {
	if v.kind == config.List {
		return "stringSlice"
	}
	return v.kind.String()
}

// load reads the config file, if any, and returns the parsed configuration.
// Every problem, in the file or in the values, comes back in one
// config.Problems error.
func (s *settings) load() (config.Config, error) {
	var problems config.Problems
	if s.configFile != "" {
		if st, err := os.Stat(s.configFile); err == nil && st.Size() > MaxConfigFileBytes {
			return config.Config{}, config.Problems{fmt.Sprintf("config: %s is %d bytes; a config file is at most %d", s.configFile, st.Size(), MaxConfigFileBytes)}
		}
		s.v.SetConfigFile(s.configFile)
		if err := s.v.ReadInConfig(); err != nil {
			return config.Config{}, config.Problems{fmt.Sprintf("config: cannot read %s: %v", s.configFile, err)}
		}
		problems = append(problems, s.fileProblems()...)
	}
	cfg, err := config.Parse(s.lookup)
	if p, ok := err.(config.Problems); ok {
		problems = append(problems, p...)
	}
	if len(problems) > 0 {
		return cfg, problems
	}
	return cfg, nil
}

// fileProblems lists keys in the config file that are not options, and
// secrets that must not be kept in a file (the options that are EnvOnly).
func (s *settings) fileProblems() config.Problems {
	var p config.Problems
	keys := s.v.AllKeys()
	sort.Strings(keys)
	for _, k := range keys {
		if !s.v.InConfig(k) {
			continue
		}
		o, known := config.Lookup(k)
		switch {
		case known && o.EnvOnly:
			p = append(p, fmt.Sprintf("config: %s: a %s may not be kept in the config file; set %s", k, k, o.Env))
		case !known:
			p = append(p, fmt.Sprintf("config: %s: unknown key (known: %s)", k, strings.Join(fileKeys(), ", ")))
		default:
			switch s.v.Get(k).(type) {
			case string, bool, int, int64, float64:
			default:
				p = append(p, fmt.Sprintf("config: %s: must be a single value (a string, number or boolean), not %T", k, s.v.Get(k)))
			}
		}
	}
	return p
}

// fileKeys lists the keys a config file may hold.
func fileKeys() []string {
	var ks []string
	for _, o := range config.Options {
		if !o.EnvOnly {
			ks = append(ks, o.Key)
		}
	}
	return ks
}
