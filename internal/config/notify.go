package config

import (
	"net/url"
	"strings"
)

// checkNotify checks each notification URL: not empty, and an absolute URL
// with the scheme http or https (the notifier's only ones: chat services
// take the payload's Slack-compatible text) and a host. A URL is a secret (a webhook URL carries its
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
		if err != nil || (!strings.EqualFold(p.Scheme, "http") && !strings.EqualFold(p.Scheme, "https")) || p.Host == "" {
			add(KeyNotify, "URL %d of %d is not an http:// or https:// URL with a host, such as https://hooks.slack.com/services/... (not shown: it may carry a token)", n, len(urls))
			continue
		}
		if first, ok := seen[u]; ok {
			add(KeyNotify, "URL %d is the same as URL %d (not shown: it may carry a token)", n, first)
			continue
		}
		seen[u] = n
	}
}
