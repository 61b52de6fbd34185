package vaultstate

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzObserve serves arbitrary sys/health replies: Observe must never
// panic, must decide a known state, and must decide it from the body when
// it could read one.
func FuzzObserve(f *testing.F) {
	f.Add(200, []byte(`{"initialized":true,"sealed":false}`))
	f.Add(299, []byte(`{"initialized":false}`))
	f.Add(473, []byte(`{"initialized":true,"standby":true,"performance_standby":true}`))
	f.Add(530, []byte(`{"removed_from_cluster":true}`))
	f.Add(500, []byte(`{"errors":["x"]}`))
	f.Add(200, []byte(`{"initialized":"yes"}`))
	f.Add(204, []byte(``))
	f.Fuzz(func(t *testing.T, code int, body []byte) {
		if code < 200 || code > 599 {
			code = 200 + (code%400+400)%400
		}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(code)
			w.Write(body)
		}))
		defer srv.Close()
		obs := Observe(context.Background(), client(t, srv.URL).Sys())
		if obs.State < Unknown || obs.State > Removed {
			t.Fatalf("state %d out of range", obs.State)
		}
		if obs.Health != nil && obs.State != FromHealth(obs.Health) {
			t.Fatalf("state %v does not follow from the body", obs.State)
		}
		if obs.State == Unknown && obs.Err == nil {
			t.Fatal("unknown state without a reason")
		}
	})
}
