package notify

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/aurora/vault-init/internal/events"
)

// watchLoopEvents are events shaped as the watch loop and the setup steps
// emit them (events.go), with error messages as vault-init logs them.
func watchLoopEvents() []events.Event {
	node := "https://vault-0.vault-internal:8200"
	return []events.Event{
		{Kind: events.Answered, Node: node, State: "uninitialized"},
		{Kind: events.Initialized, Node: node},
		{Kind: events.Unsealed, Node: node},
		{Kind: events.StepDone, Node: node, Step: "kv-mount"},
		{Kind: events.StepFailed, Node: node, Step: "audit", Error: "ensure audit device: Error making API request.\n\nURL: PUT " + node + "/v1/sys/audit/file\nCode: 403. Errors:\n\n* permission denied"},
		{Kind: events.StepDone, Node: node, Step: "app-token"},
		{Kind: events.StepDone, Node: node, Step: "revoke-root"},
		{Kind: events.Ready, Node: node, State: "active"},
		{Kind: events.Failed, Node: node, Step: "unseal", Error: "unseal: context deadline exceeded"},
		{Kind: events.SaveFailed, Error: "save init response: open /vault-init/keys.json: permission denied"},
		{Kind: events.Sealed, Node: node, State: "sealed"},
		{Kind: events.Paused, Node: node, State: "sealed"},
		{Kind: events.Resumed, Node: node},
		{Kind: events.WentAway, Node: node},
	}
}

// TestPayloadHoldsOnlyDocumentedFields decodes every body strictly into
// Payload, and checks each event's keys against the documented set: a new
// field (an events.Event field copied wholesale, say) fails here.
func TestPayloadHoldsOnlyDocumentedFields(t *testing.T) {
	r := newReceiver(t, nil) // decodes with DisallowUnknownFields
	n, _ := New([]string{r.URL}, quick())
	for _, e := range watchLoopEvents() { // queued before Run: one batch
		n.Event(e)
	}
	start(t, n)
	p := r.next()
	raw := <-r.raw
	if len(p.Events) != len(watchLoopEvents()) {
		t.Fatalf("%d events in the batch, want %d", len(p.Events), len(watchLoopEvents()))
	}
	var generic struct {
		Events []map[string]any `json:"events"`
	}
	if err := json.Unmarshal(raw, &generic); err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{"event": true, "node": true, "time": true, "state": true, "step": true, "error": true}
	for i, e := range generic.Events {
		for k := range e {
			if !documented[k] {
				t.Errorf("event %d has undocumented field %q", i, k)
			}
		}
	}
	var top map[string]any
	_ = json.Unmarshal(raw, &top)
	keys := make([]string, 0, len(top))
	for k := range top {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if !reflect.DeepEqual(keys, []string{"events", "text", "version"}) {
		t.Fatalf("top-level fields %v, want events, text, version", keys)
	}
	if strings.Contains(string(raw), "<!") || strings.Contains(p.Text, "<") {
		t.Fatalf("text is not escaped for Slack:\n%s", p.Text)
	}
}

const secret = "XXSECRETXX"

// TestURLNeverLoggedOrReturned: URLs with a token in the path, query,
// and user information fail in every way a receiver can fail, and neither
// the logs nor New's errors ever carry the token.
func TestURLNeverLoggedOrReturned(t *testing.T) {
	loop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.String(), http.StatusFound) // redirects to itself forever
	}))
	defer loop.Close()
	failing := newReceiver(t, func(int64) int { return http.StatusForbidden })
	hang := hanging(t)
	withSecret := func(base string) string {
		return strings.Replace(base, "://", "://user:"+secret+"@", 1) + "/services/T0/B0/" + secret + "?token=" + secret
	}
	core, logs := observer.New(zap.DebugLevel)
	opts := quick()
	opts.Log, opts.Attempts, opts.Timeout = zap.New(core), 2, 50*time.Millisecond
	urls := []string{withSecret(refused(t)), withSecret(loop.URL), withSecret(failing.URL), withSecret(hang.URL)}
	n, err := New(urls, opts)
	if err != nil {
		t.Fatal(err)
	}
	outs := make([]chan error, len(urls))
	for i := range urls {
		outs[i] = outcomes(n, i)
	}
	start(t, n)
	n.Event(ev(events.Unsealed, "n"))
	for i := range urls {
		err := waitOutcome(t, outs[i])
		if err == nil {
			t.Fatalf("url %d: delivered, want a failure", i+1)
		}
		if strings.Contains(err.Error(), secret) {
			t.Fatalf("url %d: error carries the secret: %v", i+1, err)
		}
	}
	if logs.Len() < len(urls) {
		t.Fatalf("%d log entries, want a warning per URL", logs.Len())
	}
	for _, l := range logs.All() {
		b, _ := json.Marshal(l.ContextMap())
		if strings.Contains(l.Message+string(b), secret) {
			t.Fatalf("log carries the secret: %s %s", l.Message, b)
		}
		if l.ContextMap()["host"] != "127.0.0.1" {
			t.Fatalf("log names host %v, want 127.0.0.1", l.ContextMap()["host"])
		}
	}
}

func TestNewRejectsBadURLsWithoutQuotingThem(t *testing.T) {
	for _, tc := range []struct {
		url, want string
	}{
		{"smtp://user:" + secret + "@mail.example.com/?to=ops", `scheme "smtp" is not supported`},
		{"slack://" + secret + "@T0/B0/C0", `scheme "slack" is not supported`},
		{"hooks.slack.com/services/" + secret, "no scheme"},
		{"http:///services/" + secret, "no host"},
		{"http://exa mple.com/" + secret + "%zz", "not a valid URL"},
	} {
		_, err := New([]string{"https://ok.example.com/hook", tc.url}, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "notify url 2") {
			t.Errorf("New(%q) = %v, want an error on url 2 saying %s", tc.url, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error quotes the URL: %v", err)
		}
	}
	n, err := New(nil, Options{})
	if err != nil || len(n.targets) != 0 {
		t.Fatalf("New(nil) = %v, %v; want a Notifier that sends nothing", n, err)
	}
	n.Event(ev(events.Unsealed, "n")) // must not panic
}

func TestTextLines(t *testing.T) {
	for _, tc := range []struct {
		e    events.Event
		want string
	}{
		{events.Event{Kind: events.Unsealed, Node: "http://v:8200"}, "vault-init: http://v:8200: unsealed"},
		{events.Event{Kind: events.Answered, Node: "n", State: "sealed"}, "vault-init: n: Vault answers (state sealed)"},
		{events.Event{Kind: events.StepFailed, Node: "n", Step: "audit", Error: "a <b> & c"}, "vault-init: n: setup step audit failed: a &lt;b&gt; &amp; c"},
		{events.Event{Kind: events.Failed, Node: "n", Step: "unseal", Error: "x"}, "vault-init: n: unseal failed, retrying: x"},
		{events.Event{Kind: events.SaveFailed, Error: "disk full"}, "vault-init: saving the keys failed; they are held in memory and the save is retried: disk full"},
		{events.Event{Kind: "something_new", Node: "n"}, "vault-init: n: something_new"},
	} {
		p := newPayload("v", []events.Event{tc.e})
		if p.Text != tc.want {
			t.Errorf("%s: text %q, want %q", tc.e.Kind, p.Text, tc.want)
		}
	}
}
