package vaultstate

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/hashicorp/vault/api"
)

func client(t *testing.T, addr string) *api.Client {
	t.Helper()
	cfg := api.DefaultConfig()
	cfg.Address = addr
	cfg.MaxRetries = 0
	c, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestObserveEveryState serves each health reply two ways: as Vault does when
// asked for 299 codes (the body decides), and as a proxy that drops the
// query string would (the default status code decides).
func TestObserveEveryState(t *testing.T) {
	f, tr := false, true
	cases := []struct {
		name string
		code int
		body string
		want State
	}{
		{"active", 200, `{"initialized":true,"sealed":false,"standby":false}`, Active},
		{"standby", 429, `{"initialized":true,"sealed":false,"standby":true}`, Standby},
		{"dr secondary", 472, `{"initialized":true,"sealed":false,"standby":false,"replication_dr_mode":"secondary"}`, DRSecondary},
		{"performance standby", 473, `{"initialized":true,"sealed":false,"standby":true,"performance_standby":true}`, PerfStandby},
		{"standby unhealthy", 474, fmt.Sprintf(`{"initialized":true,"sealed":false,"standby":true,"ha_connection_healthy":%v}`, f), StandbyUnhealthy},
		{"uninitialized", 501, `{"initialized":false,"sealed":true}`, Uninitialized},
		{"sealed", 503, `{"initialized":true,"sealed":true}`, Sealed},
		{"removed", 530, fmt.Sprintf(`{"initialized":true,"sealed":false,"removed_from_cluster":%v}`, tr), Removed},
	}
	for _, tc := range cases {
		for _, mode := range []string{"299", "raw"} {
			t.Run(tc.name+"/"+mode, func(t *testing.T) {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path != "/v1/sys/health" {
						t.Errorf("unexpected path %s", r.URL.Path)
					}
					code := tc.code
					if mode == "299" && code != 200 {
						code = 299
					}
					w.WriteHeader(code)
					fmt.Fprint(w, tc.body)
				}))
				defer srv.Close()
				obs := Observe(context.Background(), client(t, srv.URL).Sys())
				if obs.State != tc.want {
					t.Fatalf("state %v (err %v), want %v", obs.State, obs.Err, tc.want)
				}
			})
		}
	}
}

func TestObserveFailures(t *testing.T) {
	// A port that nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://" + ln.Addr().String()
	ln.Close()
	if obs := Observe(context.Background(), client(t, addr).Sys()); obs.State != Unreachable || obs.Err == nil {
		t.Fatalf("closed port: %+v, want unreachable", obs)
	}
	if obs := Observe(context.Background(), client(t, "http://no-such-host.invalid:8200").Sys()); obs.State != Unreachable {
		t.Fatalf("unknown host: %+v, want unreachable", obs)
	}

	odd := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(500)
		fmt.Fprint(w, `{"errors":["boom"]}`)
	}))
	defer odd.Close()
	if obs := Observe(context.Background(), client(t, odd.URL).Sys()); obs.State != Unknown || obs.Err == nil {
		t.Fatalf("500: %+v, want unknown with an error", obs)
	}

	garbled := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"initialized":`)
	}))
	defer garbled.Close()
	if obs := Observe(context.Background(), client(t, garbled.URL).Sys()); obs.State != Unknown || obs.Err == nil {
		t.Fatalf("garbled body: %+v, want unknown with an error", obs)
	}

	// TLS that does not verify is an answer, not "not up yet".
	tlsSrv := httptest.NewTLSServer(http.NotFoundHandler())
	defer tlsSrv.Close()
	obs := Observe(context.Background(), client(t, tlsSrv.URL).Sys())
	if obs.State != Unknown || NotUpYet(obs.Err) {
		t.Fatalf("unverified TLS: %+v, want unknown", obs)
	}
}

func TestUnsealedAndNames(t *testing.T) {
	for s := Unknown; s <= Removed; s++ {
		if s.String() == "" {
			t.Errorf("state %d has no name", s)
		}
		want := s == Active || s == Standby || s == DRSecondary || s == PerfStandby || s == StandbyUnhealthy
		if s.Answered() != (s != Unknown && s != Unreachable) {
			t.Errorf("%v.Answered() is wrong", s)
		}
		if s.Unsealed() != want {
			t.Errorf("%v.Unsealed() = %v", s, !want)
		}
	}
	if NotUpYet(nil) || NotUpYet(errors.New("x")) {
		t.Fatal("NotUpYet of nil or a plain error")
	}
}
