package config

import (
	"errors"
	"testing"
)

// FuzzParse feeds arbitrary option values to Parse: it must never panic,
// and a configuration it accepts must pass Validate.
func FuzzParse(f *testing.F) {
	f.Add("http://vault:8200", "5", "3", "1s", "info", "aurora", "false")
	f.Add("", "x", "-1", "1 minute", "LOUD", "/", "maybe")
	f.Add("https://[::1]:8200", "255", "255", "100ms", "debug", "a/b", "1")
	f.Add("http://%zz", "2", "1", "9999999999999999999s", "warn", "..", "TRUE")
	f.Fuzz(func(t *testing.T, addr, shares, threshold, interval, level, mount, skip string) {
		set := map[string]string{
			KeyVaultAddr: addr, KeySecretShares: shares, KeySecretThreshold: threshold,
			KeyCheckInterval: interval, KeyLogLevel: level, KeyKVMount: mount, KeySkipVerify: skip,
			KeyDataDir: "/vault-init", KeyLogFormat: "json",
		}
		c, err := Parse(func(k string) string { return set[k] })
		if err != nil {
			var p Problems
			if !errors.As(err, &p) || len(p) == 0 {
				t.Fatalf("error is not a non-empty Problems: %v", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted what Validate refuses: %v", err)
		}
	})
}
