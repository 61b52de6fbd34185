package notify

import (
	"strings"
	"time"

	"github.com/aurora/vault-init/internal/events"
)

// Payload is the JSON body of every notification POST: one batch of events.
// Its fields are the whole contract; nothing else is ever sent.
type Payload struct {
	// Version is vault-init's version.
	Version string `json:"version"`
	// Events are the batch's events, oldest first.
	Events []PayloadEvent `json:"events"`
	// Text is one human line per event, joined by newlines. It is the
	// field that Slack-compatible incoming webhooks (Slack, Mattermost,
	// Rocket.Chat) post to the channel; &, < and > are escaped as Slack
	// asks, so that an error message can never mention a channel.
	Text string `json:"text"`
}

// PayloadEvent is one event of a Payload. Event and Time are always set;
// the others only when the event carries them.
type PayloadEvent struct {
	// Event is the kind (events.Kind), e.g. "unsealed".
	Event string `json:"event"`
	// Node is the Vault node's API address.
	Node string `json:"node,omitempty"`
	// Time is when it happened, RFC 3339 with nanoseconds, in UTC.
	Time string `json:"time"`
	// State is the node's state (e.g. "sealed", "active").
	State string `json:"state,omitempty"`
	// Step names the setup step or the failed action.
	Step string `json:"step,omitempty"`
	// Error is the failure's message.
	Error string `json:"error,omitempty"`
}

// sent reports whether an event is notified at all: Checked is for
// metrics, and a repeated failure was notified when it first happened.
func sent(e events.Event) bool {
	if e.Kind == events.Checked {
		return false
	}
	return !((e.Kind == events.Failed || e.Kind == events.StepFailed) && e.Repeated)
}

// newPayload builds the body of one batch.
func newPayload(version string, evs []events.Event) *Payload {
	p := &Payload{Version: version, Events: make([]PayloadEvent, 0, len(evs))}
	lines := make([]string, 0, len(evs))
	for _, e := range evs {
		p.Events = append(p.Events, PayloadEvent{
			Event: string(e.Kind),
			Node:  e.Node,
			Time:  e.Time.UTC().Format(time.RFC3339Nano),
			State: e.State,
			Step:  e.Step,
			Error: e.Error,
		})
		lines = append(lines, slackEscape(line(e)))
	}
	p.Text = strings.Join(lines, "\n")
	return p
}

// line says what happened in one line, for people: "vault-init:
// http://vault-0:8200: unsealed".
func line(e events.Event) string {
	var what string
	switch e.Kind {
	case events.Answered:
		what = "Vault answers" + paren("state", e.State)
	case events.WentAway:
		what = "Vault stopped answering"
	case events.Initialized:
		what = "initialized; the keys are saved"
	case events.Unsealed:
		what = "unsealed"
	case events.Sealed:
		what = "sealed after it was seen unsealed"
	case events.Paused:
		what = "paused: sealed on purpose, vault-init leaves it sealed"
	case events.Resumed:
		what = "pause ended"
	case events.StepDone:
		what = "setup step " + e.Step + " done"
	case events.StepFailed:
		what = "setup step " + e.Step + " failed" + colon(e.Error)
	case events.Ready:
		what = "ready: unsealed and set up"
	case events.Failed:
		what = orElse(e.Step, "action") + " failed, retrying" + colon(e.Error)
	case events.SaveFailed:
		what = "saving the keys failed; they are held in memory and the save is retried" + colon(e.Error)
	default:
		what = string(e.Kind) + paren("state", e.State) + colon(e.Error)
	}
	if e.Node == "" {
		return "vault-init: " + what
	}
	return "vault-init: " + e.Node + ": " + what
}

func paren(name, v string) string {
	if v == "" {
		return ""
	}
	return " (" + name + " " + v + ")"
}

func colon(v string) string {
	if v == "" {
		return ""
	}
	return ": " + v
}

func orElse(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// slackEscape escapes the three characters that Slack's message text
// gives meaning to (links and mentions like <!channel>).
var slackEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace
