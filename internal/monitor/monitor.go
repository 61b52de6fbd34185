// Package monitor serves vault-init's health and Prometheus metrics over
// HTTP (VAULT_INIT_LISTEN, off by default): /healthz (the process runs),
// /readyz (every node unsealed and the mount in place) and /metrics.
package monitor

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/aurora/vault-init/internal/events"
)

// Metrics records what the watch loop does. Its methods are safe for
// concurrent use; a nil *Metrics records nothing.
type Metrics struct {
	reg         *prometheus.Registry
	sealed      *prometheus.GaugeVec
	initialized *prometheus.GaugeVec
	active      *prometheus.GaugeVec
	lastCheck   *prometheus.GaugeVec
	unseals     *prometheus.CounterVec
	errors      *prometheus.CounterVec
	saveFails   prometheus.Counter
}

// New returns Metrics on a registry of their own (never the global one).
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		sealed: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "vault_init_node_sealed",
			Help: "1 when the node reported sealed at the last check."}, []string{"node"}),
		initialized: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "vault_init_node_initialized",
			Help: "1 when the node reported initialized at the last check."}, []string{"node"}),
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "vault_init_node_active",
			Help: "1 when the node is the active node."}, []string{"node"}),
		lastCheck: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "vault_init_last_check_timestamp_seconds",
			Help: "Unix time of the node's last health check."}, []string{"node"}),
		unseals: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vault_init_unseals_total",
			Help: "Unseals performed by vault-init."}, []string{"node"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vault_init_errors_total",
			Help: "Errors by kind: health, init, unseal, mount."}, []string{"kind"}),
		saveFails: prometheus.NewCounter(prometheus.CounterOpts{Name: "vault_init_keystore_save_failures_total",
			Help: "Failed attempts to save the keys (they are held in memory and retried)."}),
	}
	m.reg.MustRegister(m.sealed, m.initialized, m.active, m.lastCheck, m.unseals, m.errors, m.saveFails)
	return m
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Event records e: the state found by each check, unseals, failures by
// kind (a setup step's failure is of kind mount), and failed keystore saves. Metrics is an events.Sink.
func (m *Metrics) Event(e events.Event) {
	if m == nil {
		return
	}
	switch e.Kind {
	case events.Checked:
		answered := e.State != "unreachable" && e.State != "unknown" && e.State != ""
		m.checked(e.Node, answered, e.State != "uninitialized", e.State == "sealed" || e.State == "uninitialized", e.State == "active")
	case events.Unsealed:
		m.unsealed(e.Node)
	case events.Failed:
		m.failed(e.Step)
	case events.StepFailed:
		m.failed("mount") // a setup step: the kind the errors of an active node have
	case events.SaveFailed:
		m.saveFailed()
	}
}

// checked records one node's health check.
func (m *Metrics) checked(node string, answered, initialized, sealed, active bool) {
	if m == nil {
		return
	}
	m.lastCheck.WithLabelValues(node).SetToCurrentTime()
	if answered {
		m.initialized.WithLabelValues(node).Set(b2f(initialized))
		m.sealed.WithLabelValues(node).Set(b2f(sealed))
		m.active.WithLabelValues(node).Set(b2f(active))
	}
}

// unsealed counts an unseal of node.
func (m *Metrics) unsealed(node string) {
	if m != nil {
		m.unseals.WithLabelValues(node).Inc()
	}
}

// failed counts an error of a kind.
func (m *Metrics) failed(kind string) {
	if m != nil {
		m.errors.WithLabelValues(kind).Inc()
	}
}

// saveFailed counts a failed keystore save.
func (m *Metrics) saveFailed() {
	if m != nil {
		m.saveFails.Inc()
	}
}

// Serve listens on addr until ctx ends. ready answers /readyz.
func (m *Metrics) Serve(ctx context.Context, addr string, ready func() bool) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return m.serve(ctx, ln, ready)
}

func (m *Metrics) serve(ctx context.Context, ln net.Listener, ready func() bool) error {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready() {
			http.Error(w, "not ready\n", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
