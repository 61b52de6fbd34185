package testkit

import (
	"net/http"
	"time"
)

// Mode is how a Proxy treats each request.
type Mode int32

// The modes.
const (
	Pass    Mode = iota // forward to Vault
	Cut                 // close the connection without a reply
	Partial             // send the start of a reply, then close
	Fail500             // answer 500
	Slow                // wait SlowDelay, then forward
	// The modes in which Vault's endpoints contradict each other, as
	// behind a balancer over several Vaults; every other request is
	// forwarded.
	HealthUninit // sys/health says "not initialized"
	HealthSealed // sys/health says "sealed"
	InitLie      // sys/health and sys/seal-status say "not initialized"; sys/init goes through
)

// SlowDelay is how long Slow mode holds each request back.
const SlowDelay = 5 * time.Second

// lies are the replies the disagreeing modes put in Vault's place.
var lies = map[Mode]map[string]string{
	HealthUninit: {"/v1/sys/health": `{"initialized":false,"sealed":true}`},
	HealthSealed: {"/v1/sys/health": `{"initialized":true,"sealed":true}`},
	InitLie: {"/v1/sys/health": `{"initialized":false,"sealed":true}`,
		"/v1/sys/seal-status": `{"type":"shamir","initialized":false,"sealed":true,"t":0,"n":0,"progress":0}`},
}

// misbehave answers r as m says, and reports whether it did; false means
// the request is to be forwarded.
func (m Mode) misbehave(w http.ResponseWriter, r *http.Request) bool {
	if lie, ok := lies[m][r.URL.Path]; ok && r.Method == http.MethodGet {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(lie)) // 200: vault-init asks sys/health for 299 in every state
		return true
	}
	switch m {
	case Cut, Partial:
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return true
		}
		if m == Partial {
			buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"initial")
			buf.Flush()
		}
		conn.Close()
		return true
	case Fail500:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		w.Write([]byte(`{"errors":["injected failure"]}`))
		return true
	}
	return false
}
