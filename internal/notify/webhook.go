package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// sender delivers one batch to one receiver. send returns nil when the
// receiver took the batch, and otherwise an error that is safe to log (it
// never holds the receiver's URL, which may carry a token); a *sendError
// says whether another attempt may succeed. A sender is used by one
// goroutine at a time. Another kind of receiver (a chat service's own API,
// say) is another sender, chosen by the URL's scheme in senders.
type sender interface {
	send(ctx context.Context, p *Payload) error
}

// senders makes the sender for a URL, by scheme.
var senders = map[string]func(u *url.URL, o *Options) sender{
	"http":  newWebhook,
	"https": newWebhook,
}

// sendError is a failed delivery.
type sendError struct {
	msg        string        // safe to log
	permanent  bool          // another attempt would fail the same way
	retryAfter time.Duration // the receiver's Retry-After, if any
}

func (e *sendError) Error() string { return e.msg }

// webhook POSTs the Payload as JSON: the generic webhook, and every
// Slack-compatible incoming webhook, which posts its "text".
type webhook struct {
	url    string
	secret []string // parts of the URL that must never reach a log
	client *http.Client
	agent  string
}

func newWebhook(u *url.URL, o *Options) sender {
	// Redirects are not followed: Go would send the webhook URL (its
	// token) to the next host as the Referer, and turn a 301, 302 or 303
	// into a GET without the body, which would count as delivered.
	c := *o.Client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &webhook{url: u.String(), secret: secretParts(u), client: &c, agent: "vault-init/" + o.Version}
}

func (w *webhook) send(ctx context.Context, p *Payload) error {
	body, err := json.Marshal(p)
	if err != nil {
		return &sendError{msg: "encode payload: " + err.Error(), permanent: true}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return &sendError{msg: "build request: " + redact(err, w.secret), permanent: true}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", w.agent)
	resp, err := w.client.Do(req)
	if err != nil {
		return &sendError{msg: "post: " + redact(err, w.secret)}
	}
	// Drain a little so that the connection can be reused; the body is
	// never logged (a receiver may echo the request's path).
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return &sendError{msg: "receiver answered " + strconv.Itoa(resp.StatusCode),
			retryAfter: retryAfter(resp.Header.Get("Retry-After"))}
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return &sendError{msg: "receiver answered " + strconv.Itoa(resp.StatusCode) +
			" (a redirect: vault-init does not follow them; give the URL it redirects to)", permanent: true}
	default:
		return &sendError{msg: "receiver answered " + strconv.Itoa(resp.StatusCode), permanent: true}
	}
}

// retryAfter reads a Retry-After given in seconds (the HTTP-date form is
// ignored: the backoff applies).
func retryAfter(v string) time.Duration {
	s, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || s <= 0 {
		return 0
	}
	return time.Duration(s) * time.Second
}

// parseURL checks one notification URL. Its errors name the URL by its
// position (1-based) and never quote it: it may carry a token.
func parseURL(i int, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("notify url %d: not a valid URL", i+1)
	}
	scheme := strings.ToLower(u.Scheme)
	if _, ok := senders[scheme]; !ok {
		if scheme == "" {
			return nil, fmt.Errorf("notify url %d: no scheme (want http:// or https://)", i+1)
		}
		return nil, fmt.Errorf("notify url %d: scheme %q is not supported (want http or https)", i+1, scheme)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("notify url %d: no host", i+1)
	}
	return u, nil
}

// secretParts lists the parts of u that may carry a token, longest first:
// the whole URL, its path and query, its user information.
func secretParts(u *url.URL) []string {
	parts := []string{u.String(), u.RequestURI(), u.EscapedPath(), u.Path, u.RawQuery, u.Fragment, u.User.String()}
	if pw, ok := u.User.Password(); ok {
		parts = append(parts, pw)
	}
	var kept []string
	for _, p := range parts {
		if len(p) > 1 && p != "/" {
			kept = append(kept, p)
		}
	}
	return kept
}

// redact returns err's message without the URL that net/http wraps into
// it, and without any part of the URL that could carry a token.
func redact(err error, secret []string) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	msg := err.Error()
	for _, s := range secret {
		msg = strings.ReplaceAll(msg, s, "<redacted>")
	}
	return msg
}
