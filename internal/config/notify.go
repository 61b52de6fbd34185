package config

import (
	"net/url"
	"regexp"
)

// urlScheme is RFC 3986's scheme: a letter, then letters, digits, +, - or .
// (shoutrrr-style URLs such as generic+https:// included). Which schemes
// are served is the notifier's to say.
var urlScheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*$`)

// checkNotify checks each notification URL: not empty, and an absolute URL
// with a scheme and a host. A URL is a secret (a webhook URL carries its
// token), so a problem names it by its position, never by its text, not
// even in part.
func checkNotify(add func(key, format string, args ...any), urls []string) {
	seen := map[string]int{}
	for i, u := range urls {
		n := i + 1
		if u == "" {
			add(KeyNotify, "URL %d of %d is empty (a stray comma?); list URLs separated by single commas", n, len(urls))
			continue
		}
		p, err := url.Parse(u)
		if err != nil || !urlScheme.MatchString(p.Scheme) || p.Host == "" {
			add(KeyNotify, "URL %d of %d is not an absolute URL with a scheme and a host, such as https://hooks.example.com/x or slack://... (not shown: it may carry a token)", n, len(urls))
			continue
		}
		if first, ok := seen[u]; ok {
			add(KeyNotify, "URL %d is the same as URL %d (not shown: it may carry a token)", n, first)
			continue
		}
		seen[u] = n
	}
}
