package config

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestNotify: the URLs reach Config in order, trimmed; an empty element, a
// URL that is not http(s) with a host, and a URL listed twice are refused, each
// named by its position and never by its text (a webhook URL carries its
// token).
func TestNotify(t *testing.T) {
	const hook = "https://hooks.slack.example/services/T0/B0/SECRETHOOK"
	c, err := Parse(lookupWith(map[string]string{KeyNotify: " " + hook + " , HTTP://h.example/x "}))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{hook, "HTTP://h.example/x"}; !slices.Equal(c.Notify, want) {
		t.Fatalf("notify %q, want %q", []string(c.Notify), want)
	}
	if c, err := Parse(lookupWith(map[string]string{KeyNotify: " "})); err != nil || c.Notify != nil {
		t.Fatalf("a blank value is no URL: %q, %v", []string(c.Notify), err)
	}
	cases := []struct{ name, value, want string }{
		{"a stray comma", hook + ",,https://SECRETTOKEN@x", "notify: URL 2 of 3 is empty"},
		{"a trailing comma", hook + ",", "notify: URL 2 of 2 is empty"},
		{"no scheme", "hooks.example/SECRETTOKEN", "notify: URL 1 of 1 is not an http:// or https:// URL"},
		{"no host", "https:///SECRETTOKEN", "notify: URL 1 of 1 is not an http:// or https:// URL"},
		{"opaque", "slack:SECRETTOKEN@x", "notify: URL 1 of 1 is not an http:// or https:// URL"},
		{"a chat scheme (no shoutrrr)", "slack://hook:SECRETTOKEN@webhook", "notify: URL 1 of 1 is not an http:// or https:// URL"},
		{"a scheme that is not one", "1http://SECRETTOKEN@x", "notify: URL 1 of 1 is not an http:// or https:// URL"},
		{"unparsable, with a token", "https://u:SECRETTOKEN@x:port/", "notify: URL 1 of 1 is not an http:// or https:// URL"},
		{"twice", "https://SECRETTOKEN@a.example," + hook + ",https://SECRETTOKEN@a.example", "notify: URL 3 is the same as URL 1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(lookupWith(map[string]string{KeyNotify: tc.value}))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			for _, secret := range []string{"SECRET", "a.example", "T0/B0", "@x"} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("the error shows (part of) a URL (%s): %v", secret, err)
				}
			}
		})
	}
}

// TestNotifyNeverPrints: a Config printed by accident (a log field, %v,
// %+v, %#v) does not show the notification URLs.
func TestNotifyNeverPrints(t *testing.T) {
	c := Config{Notify: Secrets{"https://hooks.example/SECRETHOOK"}}
	for _, s := range []string{fmt.Sprint(c.Notify), fmt.Sprintf("%v %+v %#v %s", c, c, c, c.Notify)} {
		if strings.Contains(s, "SECRETHOOK") {
			t.Fatalf("notify URL printed: %s", s)
		}
	}
	var urls []string = c.Notify // what a notifier takes
	if urls[0] != "https://hooks.example/SECRETHOOK" {
		t.Fatal("the URL is lost")
	}
}
