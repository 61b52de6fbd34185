package bench

import (
	"fmt"
	"os"
	"sync"
	"time"
)

// The figures of a run, written as Markdown rows to $BENCH_OUT if set.
var (
	recMu sync.Mutex
	rows  []string
)

func record(name string, d time.Duration) {
	add(fmt.Sprintf("| %s | %v |", name, d.Round(time.Millisecond)))
}

func recordRatio(name string, r float64) {
	add(fmt.Sprintf("| %s | %.2f |", name, r))
}

func recordValue(name, v string) {
	add(fmt.Sprintf("| %s | %s |", name, v))
}

func add(row string) {
	recMu.Lock()
	defer recMu.Unlock()
	rows = append(rows, row)
	if path := os.Getenv("BENCH_OUT"); path != "" {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			fmt.Fprintln(f, row)
			f.Close()
		}
	}
	fmt.Println(row)
}
