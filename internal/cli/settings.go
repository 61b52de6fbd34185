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

// settings binds every config.Option to a flag, an environment variable and
// a config-file key through one viper instance (never the global one).
type settings struct {
	v          *viper.Viper
	configFile string
}

func newSettings() *settings {
	return &settings{v: viper.New()}
}

// addFlags registers the flags of config.Options on fs and binds them, and
// the environment variables, to viper. Precedence is viper's own:
// flag, then environment, then config file, then default.
func (s *settings) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&s.configFile, "config", "", "config file (YAML, JSON or TOML) with the same keys as the flags")
	for _, o := range config.Options {
		s.v.SetDefault(o.Key, o.Default)
		// BindEnv only fails without arguments.
		_ = s.v.BindEnv(o.Key, o.Env)
		if o.EnvOnly {
			continue
		}
		fs.String(o.Key, o.Default, fmt.Sprintf("%s (env %s)", o.Usage, o.Env))
		if o.Key == config.KeySkipVerify || o.Key == config.KeyOnce {
			fs.Lookup(o.Key).NoOptDefVal = "true" // --tls-skip-verify or --once alone means true
		}
		_ = s.v.BindPFlag(o.Key, fs.Lookup(o.Key))
	}
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
	cfg, err := config.Parse(s.v.GetString)
	if p, ok := err.(config.Problems); ok {
		problems = append(problems, p...)
	}
	if len(problems) > 0 {
		return cfg, problems
	}
	return cfg, nil
}

// fileProblems lists keys in the config file that are not options, and
// secrets that must not be kept in a file.
func (s *settings) fileProblems() config.Problems {
	var p config.Problems
	keys := s.v.AllKeys()
	sort.Strings(keys)
	for _, k := range keys {
		if !s.v.InConfig(k) {
			continue
		}
		switch {
		case k == config.KeyToken:
			p = append(p, fmt.Sprintf("config: %s: a token may not be kept in the config file; set VAULT_TOKEN", k))
		case !config.IsKey(k):
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
