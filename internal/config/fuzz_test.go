package config

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary option values to Parse. Properties it checks that
// Parse does not check by itself:
//   - an error is a non-empty Problems, each naming a known option;
//   - the token never appears in an error (it is a secret);
//   - a configuration it accepts, written back as option values, parses to
//     the same Config (nothing is lost or changed on the way).
func FuzzParse(f *testing.F) {
	f.Add("http://vault:8200", "5", "3", "1s", "info", "aurora", "false", "hvs.token-0123456789", ":9100")
	f.Add("", "x", "-1", "1 minute", "LOUD", "/", "maybe", "", "host")
	f.Add("https://[::1]:8200", "255", "255", "100ms", "debug", "a/b", "1", "s.abc", "")
	f.Add("http://%zz", "2", "1", "9999999999999999999s", "warn", "..", "TRUE", "x", ":0")
	f.Add("http://u:hvs.token-0123456789@v:1", "3", "2", "1s", "info", "kv", "0", "hvs.token-0123456789", ":65536")
	f.Fuzz(func(t *testing.T, addr, shares, threshold, interval, level, mount, skip, token, listen string) {
		set := map[string]string{
			KeyVaultAddr: addr, KeySecretShares: shares, KeySecretThreshold: threshold,
			KeyCheckInterval: interval, KeyLogLevel: level, KeyKVMount: mount, KeySkipVerify: skip,
			KeyToken: token, KeyListen: listen,
		}
		c, err := Parse(lookupWith(set))
		if err != nil {
			var p Problems
			if !errors.As(err, &p) || len(p) == 0 {
				t.Fatalf("error is not a non-empty Problems: %v", err)
			}
			for _, s := range p {
				if key, _, _ := strings.Cut(s, ":"); !isOption(key) {
					t.Fatalf("problem names no option: %q", s)
				}
			}
			// Only a token long enough to be told from other text, and not
			// also typed into another option, can be looked for.
			if len(strings.TrimSpace(token)) >= 8 && !strings.Contains(addr+shares+threshold+interval+level+mount+skip+listen, strings.TrimSpace(token)) &&
				strings.Contains(err.Error(), strings.TrimSpace(token)) {
				t.Fatalf("the token appears in the error: %v", err)
			}
			return
		}
		again, err := Parse(lookupWith(valuesOf(c)))
		if err != nil {
			t.Fatalf("an accepted config, written back, is refused: %v", err)
		}
		if !reflect.DeepEqual(c, again) {
			t.Fatalf("round trip changed the config:\n got %+v\nwant %+v", again, c)
		}
	})
}

// isOption reports whether key is an option's key.
func isOption(key string) bool {
	for _, o := range Options {
		if o.Key == key {
			return true
		}
	}
	return false
}

// valuesOf writes c back as option values (what an operator would type).
func valuesOf(c Config) map[string]string {
	return map[string]string{
		KeyVaultAddr: c.VaultAddr, KeyAddrs: strings.Join(c.Addrs, ","), KeyInitAddr: c.InitAddr,
		KeyCACert: c.TLS.CACert, KeyCAPath: c.TLS.CAPath, KeyClientCert: c.TLS.ClientCert, KeyClientKey: c.TLS.ClientKey,
		KeyTLSServerName: c.TLS.ServerName, KeySkipVerify: strconv.FormatBool(c.TLS.SkipVerify),
		KeyToken: c.Token.Reveal(), KeyKVMount: c.KVMount, KeyKVBasePath: c.KVBasePath, KeyDataDir: c.DataDir,
		KeySecretShares: strconv.Itoa(c.SecretShares), KeySecretThreshold: strconv.Itoa(c.SecretThreshold),
		KeyRecoveryShares: strconv.Itoa(c.RecoveryShares), KeyRecoveryThreshold: strconv.Itoa(c.RecoveryThreshold),
		KeyCheckInterval: c.CheckInterval.String(), KeyOnce: strconv.FormatBool(c.Once), KeyAudit: c.Audit,
		KeyListen: c.Listen, KeyAppToken: strconv.FormatBool(c.AppToken), KeyAppPolicy: c.AppPolicy,
		KeyAppTokenPeriod: c.AppTokenPeriod.String(), KeyRevokeRoot: strconv.FormatBool(c.RevokeRoot),
		KeyAgeRecipient: c.AgeRecipient, KeyAgeIdentityFile: c.AgeIdentityFile,
		KeyKeystore: c.Keystore, KeyK8sSecret: c.K8sSecret, KeyK8sNamespace: c.K8sNamespace, KeyPeers: strings.Join(c.Peers, ","),
		KeyNotify:   strings.Join(c.Notify, ","),
		KeyLogLevel: c.LogLevel, KeyLogFormat: c.LogFormat,
	}
}

// TestValuesOfCoversEveryOption keeps valuesOf, and so the round trip, in
// step with Options.
func TestValuesOfCoversEveryOption(t *testing.T) {
	v := valuesOf(Config{})
	for _, o := range Options {
		if _, ok := v[o.Key]; !ok {
			t.Errorf("valuesOf misses option %s", o.Key)
		}
	}
}
