//go:build faultinject

package faults

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/testkit"
)

var (
	binary  string // vault-init built with -tags faultinject
	release string // vault-init built as released, for TestReleaseBinaryHasNoHooks
)

func TestMain(m *testing.M) {
	paths, remove, err := testkit.BuildAll(testkit.FaultInject, testkit.Release)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary, release = paths[0], paths[1]
	code := m.Run()
	figures.print()
	remove()
	os.Exit(code)
}

// figures collects the suite's measurements, printed at the end as FIGURE lines.
var figures = &collector{values: map[string][]time.Duration{}, counts: map[string]int{}, rates: map[string][]float64{}}

type collector struct {
	mu     sync.Mutex
	values map[string][]time.Duration
	counts map[string]int
	rates  map[string][]float64
}

func (c *collector) rate(name string, r float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rates[name] = append(c.rates[name], r)
}

func (c *collector) add(name string, d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.values[name] = append(c.values[name], d)
}

func (c *collector) count(name string, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts[name] += n
}

func (c *collector) print() {
	c.mu.Lock()
	defer c.mu.Unlock()
	var names []string
	for n := range c.counts {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Printf("FIGURE %s: %d\n", n, c.counts[n])
	}
	names = names[:0]
	for n := range c.rates {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		v := append([]float64(nil), c.rates[n]...)
		sort.Float64s(v)
		fmt.Printf("FIGURE %s: n=%d min=%.2f p50=%.2f max=%.2f\n", n, len(v), v[0], v[len(v)/2], v[len(v)-1])
	}
	names = names[:0]
	for n := range c.values {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		v := append([]time.Duration(nil), c.values[n]...)
		sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
		fmt.Printf("FIGURE %s: n=%d min=%v p50=%v max=%v\n", n, len(v), v[0].Round(time.Millisecond),
			v[len(v)/2].Round(time.Millisecond), v[len(v)-1].Round(time.Millisecond))
	}
}

var windowRE = regexp.MustCompile(`"window": "([^"]+)"`)

// proc is one vault-init process of the faultinject build, with the data
// dir it keeps its keys in.
type proc struct {
	*testkit.Proc
	t   *testing.T
	dir string
}

// run starts the faultinject build of vault-init against addr, keeping its
// keys in dir, with extra environment. Its output is scanned for secrets
// when the test ends.
func run(t *testing.T, addr, dir string, env ...string) *proc {
	t.Helper()
	var p *proc
	// Registered before Start's cleanup, so that it runs after it: once
	// the process has exited.
	t.Cleanup(func() {
		if p == nil {
			return
		}
		// The window in which the keys exist only in memory, as vault-init
		// measured it from Vault's reply to the keys being durable and read back.
		for _, m := range windowRE.FindAllStringSubmatch(p.Stderr.String(), -1) {
			if d, err := time.ParseDuration(m[1]); err == nil {
				figures.add("window from init reply to keys durable and read back", d)
			}
		}
	})
	p = &proc{Proc: testkit.Start(t, binary, testkit.Options{
		Env:     append([]string{"VAULT_ADDR=" + addr, "VAULT_INIT_DATA_DIR=" + dir}, env...),
		ScanDir: dir,
	}), t: t, dir: dir}
	return p
}

// marker waits for the FAULTINJECT line of point and returns when it was written.
func (p *proc) marker(point string, timeout time.Duration) time.Time {
	p.t.Helper()
	p.WaitFor("FAULTINJECT "+point+" ", timeout)
	sc := bufio.NewScanner(strings.NewReader(p.Stderr.String()))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 4 && f[0] == "FAULTINJECT" && f[1] == point {
			ns, _ := strconv.ParseInt(f[3], 10, 64)
			return time.Unix(0, ns)
		}
	}
	p.t.Fatalf("no FAULTINJECT %s line", point)
	return time.Time{}
}

// loadKeys reads the keystore in dir or fails the test.
func loadKeys(t *testing.T, dir string) *keystore.InitData {
	t.Helper()
	d, err := keystore.New(dir).Load()
	if err != nil {
		t.Fatalf("keystore: %v", err)
	}
	return d
}

func TestReleaseBinaryHasNoHooks(t *testing.T) {
	raw, err := os.ReadFile(release)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"VAULT_INIT_FAULT", "FAULTINJECT", "internal/faultinject"} {
		if bytes.Contains(raw, []byte(s)) {
			t.Errorf("the release binary contains %q", s)
		}
	}
	armed, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(armed, []byte("VAULT_INIT_FAULT")) {
		t.Fatal("the faultinject build lacks its hooks: this check proves nothing")
	}
}

// short scales a duration down under -short.
func short(full, brief time.Duration) time.Duration {
	if testing.Short() {
		return brief
	}
	return full
}
