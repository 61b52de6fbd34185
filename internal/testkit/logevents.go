package testkit

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/aurora/vault-init/internal/events"
)

// eventMsg is the message of the debug log line of an event (events.Log).
const eventMsg = "event"

// WaitEvent waits until the logs hold an event of kind, and returns the
// first one; it fails the test with the logs if none comes within timeout.
// It matches the debug line that events.Log writes ("msg":"event" with
// "event":"<kind>"), in the console and in the JSON log format, so that a
// test does not depend on the wording of a log message.
func (p *Proc) WaitEvent(kind events.Kind, timeout time.Duration) events.Event {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if evs := p.Events(kind); len(evs) > 0 {
			return evs[0]
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("no %q event within %v; logs so far:\n%s", kind, timeout, p.Stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Events returns the events of kind in the logs so far, in order ("" for
// every kind). Only debug logs carry them (TestEnv sets the level).
func (p *Proc) Events(kind events.Kind) []events.Event {
	return parseEvents(p.Stderr.String(), kind)
}

// parseEvents finds the event lines of kind ("" for all) in logs.
func parseEvents(logs string, kind events.Kind) []events.Event {
	var out []events.Event
	for _, line := range strings.Split(logs, "\n") {
		e, ok := parseEvent(line)
		if ok && (kind == "" || e.Kind == kind) {
			out = append(out, e)
		}
	}
	return out
}

// parseEvent decodes one log line that events.Log wrote. A JSON line is one
// object; a console line is tab-separated (time, level, logger, message)
// and ends with the fields as one JSON object.
func parseEvent(line string) (events.Event, bool) {
	var fields struct {
		Msg      string `json:"msg"`
		TS       string `json:"ts"`
		Event    string `json:"event"`
		Node     string `json:"node"`
		State    string `json:"state"`
		Step     string `json:"step"`
		Error    string `json:"error"`
		Repeated bool   `json:"repeated"`
	}
	if strings.HasPrefix(line, "{") {
		if json.Unmarshal([]byte(line), &fields) != nil || fields.Msg != eventMsg {
			return events.Event{}, false
		}
	} else {
		parts := strings.Split(line, "\t")
		if len(parts) < 3 || parts[len(parts)-2] != eventMsg || json.Unmarshal([]byte(parts[len(parts)-1]), &fields) != nil {
			return events.Event{}, false
		}
		fields.TS = parts[0]
	}
	if fields.Event == "" {
		return events.Event{}, false
	}
	ts, _ := time.Parse("2006-01-02T15:04:05.000Z0700", fields.TS)
	return events.Event{Kind: events.Kind(fields.Event), Time: ts, Node: fields.Node, State: fields.State,
		Step: fields.Step, Error: fields.Error, Repeated: fields.Repeated}, true
}
