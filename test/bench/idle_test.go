package bench

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aurora/vault-init/internal/testkit"
	"github.com/aurora/vault-init/internal/vaulttest"
)

// buildRelease builds vault-init as the image does.
func buildRelease(b *testing.B) string {
	b.Helper()
	bin, err := testkit.Release.Build(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	return bin
}

// cpuTicks is the process's user+system time, in clock ticks (1/100 s).
func cpuTicks(b *testing.B, pid int) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name, which ends with ')'.
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s
}

func rssKiB(b *testing.B, pid int) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			n, _ := strconv.ParseInt(strings.Fields(l)[1], 10, 64)
			return n
		}
	}
	return 0
}

// BenchmarkIdleCost: CPU and memory of the released binary over 60 s of
// watching a healthy Vault at the default interval. Goals: under 0.5 % of
// a core and under 30 MB. Also the sizes of the binary and the image.
func BenchmarkIdleCost(b *testing.B) {
	bin := buildRelease(b)
	if st, err := os.Stat(bin); err == nil {
		recordValue("binary size (CGO_ENABLED=0, -trimpath, -s -w)", fmt.Sprintf("%.1f MB", float64(st.Size())/1e6))
	}
	if out, err := exec.Command("docker", "image", "inspect", "-f", "{{.Size}}", "vault-init:local").Output(); err == nil {
		n, _ := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
		recordValue("container image vault-init:local", fmt.Sprintf("%.1f MB", n/1e6))
	} else {
		recordValue("container image vault-init:local", "not built on this machine (run make prod-local)")
	}

	srv := vaulttest.Start(b, vaulttest.Options{})
	// As a user runs it: the default check interval and log level.
	p := testkit.Start(b, bin, testkit.Options{AsReleased: true, Env: []string{"VAULT_ADDR=" + srv.Addr(), "VAULT_INIT_DATA_DIR=" + b.TempDir()}})
	p.WaitFor("vault is ready", 60*time.Second)
	window := 60 * time.Second
	if testing.Short() {
		window = 10 * time.Second
	}
	pid := p.Pid()
	t0, c0 := time.Now(), cpuTicks(b, pid)
	time.Sleep(window)
	c1, el := cpuTicks(b, pid), time.Since(t0)
	cpu := float64(c1-c0) / 100 / el.Seconds() * 100
	rss := float64(rssKiB(b, pid)) / 1024
	b.ReportMetric(cpu, "%cpu")
	b.ReportMetric(rss, "MB-rss")
	recordValue(fmt.Sprintf("idle CPU over %v watching a healthy Vault (goal < 0.5 %% of a core)", window), fmt.Sprintf("%.2f %%", cpu))
	recordValue("idle RSS (goal < 30 MB)", fmt.Sprintf("%.1f MB", rss))
}
