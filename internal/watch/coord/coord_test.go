package coord

import (
	"context"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// fake is a node's health check: down (connection refused), or answering
// initialized or not. It counts the checks.
type fake struct {
	mu          sync.Mutex
	down        bool
	initialized bool
	checks      int
}

func (f *fake) HealthWithContext(ctx context.Context) (*api.HealthResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.checks++
	if f.down {
		return nil, syscall.ECONNREFUSED
	}
	return &api.HealthResponse{Initialized: f.initialized, Sealed: true}, nil
}

func (f *fake) set(down, initialized bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down, f.initialized = down, initialized
}

func cluster(fakes ...*fake) *Coordinator {
	c := &Coordinator{Log: zap.NewNop()}
	for i, f := range fakes {
		c.Nodes = append(c.Nodes, Node{Addr: string(rune('a' + i)), Health: f})
	}
	return c
}

func TestFirstThatAnswersIsChosenOnce(t *testing.T) {
	a, b := &fake{down: true}, &fake{}
	c := cluster(a, b)
	core, logs := observer.New(zap.InfoLevel)
	c.Log = zap.New(core)
	log := zap.NewNop()
	if ok, _ := c.MayInitialize(context.Background(), "a", log); ok {
		t.Fatal("node a, down, may initialize")
	}
	if ok, _ := c.MayInitialize(context.Background(), "b", log); !ok {
		t.Fatal("node b, the first that answers, may not initialize")
	}
	// a comes up: b stays the chosen one.
	a.set(false, false)
	if ok, _ := c.MayInitialize(context.Background(), "a", log); ok {
		t.Fatal("node a took over the choice of node b")
	}
	if n := logs.FilterMessage("chose the node to initialize: the first that answers").Len(); n != 1 {
		t.Fatalf("the choice was logged %d times, want once", n)
	}
}

func TestForgetLetsTheNextBeChosen(t *testing.T) {
	a, b := &fake{}, &fake{}
	c := cluster(a, b)
	log := zap.NewNop()
	if ok, _ := c.MayInitialize(context.Background(), "a", log); !ok {
		t.Fatal("node a may not initialize")
	}
	a.set(true, false)
	c.Forget("b") // not the chosen one: no change
	if ok, _ := c.MayInitialize(context.Background(), "b", log); ok {
		t.Fatal("forgetting another node dropped the choice")
	}
	c.Forget("a")
	if ok, _ := c.MayInitialize(context.Background(), "b", log); !ok {
		t.Fatal("node b may not initialize after node a was forgotten")
	}
}

func TestNoInitWhileANodeIsInitialized(t *testing.T) {
	a, b := &fake{}, &fake{initialized: true}
	c := cluster(a, b)
	for _, addr := range []string{"a", "b"} {
		if ok, peer := c.MayInitialize(context.Background(), addr, zap.NewNop()); ok || peer != "" {
			t.Fatalf("node %s: may %v, peer %q, with node b initialized", addr, ok, peer)
		}
	}
}

func TestInitAddrDecides(t *testing.T) {
	c := cluster(&fake{}, &fake{})
	c.InitAddr = "b"
	if ok, _ := c.MayInitialize(context.Background(), "a", zap.NewNop()); ok {
		t.Fatal("node a may initialize; the init node is b")
	}
	if ok, _ := c.MayInitialize(context.Background(), "b", zap.NewNop()); !ok {
		t.Fatal("node b, the init node, may not initialize")
	}
}

func TestPeers(t *testing.T) {
	down, fresh, initialized := &fake{down: true}, &fake{}, &fake{}
	c := cluster(&fake{})
	c.Peers = []Node{{Addr: "down", Health: down}, {Addr: "fresh", Health: fresh}, {Addr: "init", Health: initialized}}
	if ok, peer := c.MayInitialize(context.Background(), "a", zap.NewNop()); !ok || peer != "" {
		t.Fatalf("no peer initialized: may %v, peer %q", ok, peer)
	}
	initialized.set(false, true)
	if ok, peer := c.MayInitialize(context.Background(), "a", zap.NewNop()); ok || peer != "init" {
		t.Fatalf("peer init initialized: may %v, peer %q", ok, peer)
	}
	if down.checks != 2 {
		t.Fatalf("the peer that is down was asked %d times, want 2", down.checks)
	}
}

func TestUnderWay(t *testing.T) {
	var c Coordinator
	if c.UnderWay() != nil {
		t.Fatal("an init under way before Start")
	}
	c.Start()
	done := c.UnderWay()
	if done == nil {
		t.Fatal("no init under way after Start")
	}
	select {
	case <-done:
		t.Fatal("closed before End")
	default:
	}
	c.End()
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("not closed by End")
	}
	if c.UnderWay() != nil {
		t.Fatal("an init under way after End")
	}
	c.End() // a second End is harmless
}
