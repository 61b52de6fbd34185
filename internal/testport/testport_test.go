package testport

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// picks is how many ports each side takes. Drawn at random from 12000
// with no reservation, 500 draws repeat a port with a probability above
// 0.9999, and two sets of 300 share about 7 ports on average.
const picks = 500

func TestPortsAreNeverHandedOutTwice(t *testing.T) {
	seen := map[int]bool{}
	for range picks {
		p, err := Port()
		if err != nil {
			t.Fatal(err)
		}
		if seen[p] {
			t.Fatalf("port %d handed out twice in one process", p)
		}
		seen[p] = true
		if p < first || p >= first+count {
			t.Fatalf("port %d outside [%d, %d)", p, first, first+count)
		}
	}
}

func TestPortsHeldByAnotherProcessAreSkipped(t *testing.T) {
	// The child reserves 300 ports, prints them, and holds them until its
	// stdin closes.
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHoldPorts$")
	cmd.Env = append(os.Environ(), "TESTPORT_HOLD=300")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); cmd.Wait() }()
	theirs := map[int]bool{}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		if line == "held" {
			break
		}
		if p, err := strconv.Atoi(strings.TrimPrefix(line, "port ")); err == nil && strings.HasPrefix(line, "port ") {
			theirs[p] = true
		}
	}
	if len(theirs) != 300 {
		t.Fatalf("the helper process reported %d ports, want 300", len(theirs))
	}
	takeAvoiding(t, 300, theirs, "another process holds it")
	// Once that process is gone, its ports are free to be handed out.
	stdin.Close()
	cmd.Wait()
	// (Several: another test binary may take one meanwhile.)
	freed := 0
	for p := range theirs {
		f, err := reserve(p)
		if err != nil {
			t.Fatal(err)
		}
		if f != nil {
			freed++
			f.Close()
		}
		if freed == 5 {
			break
		}
	}
	if freed < 5 {
		t.Fatalf("%d of its ports free after the holder exited, want 5", freed)
	}
}

// TestPortsSomethingListensOnAreSkipped: ports that another program
// listens on (without a reservation) are never handed out.
func TestPortsSomethingListensOnAreSkipped(t *testing.T) {
	busy := map[int]bool{}
	for p := first; p < first+count && len(busy) < 2000; p += 3 {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		defer ln.Close()
		busy[p] = true
	}
	takeAvoiding(t, 300, busy, "something listens on it")
}

// takeAvoiding takes n ports and fails if one is in avoid, where it must
// not be because why.
func takeAvoiding(t *testing.T, n int, avoid map[int]bool, why string) {
	t.Helper()
	for range n {
		p, err := Port()
		if err != nil {
			t.Fatal(err)
		}
		if avoid[p] {
			t.Fatalf("port %d handed out while %s", p, why)
		}
	}
}

// TestHelperHoldPorts is the child of TestPortsHeldByAnotherProcessAreSkipped.
func TestHelperHoldPorts(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("TESTPORT_HOLD"))
	if n == 0 {
		return // run as a test: it is only the helper process
	}
	for range n {
		p, err := Port()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("port %d\n", p)
	}
	fmt.Println("held")
	bufio.NewReader(os.Stdin).ReadString('\n') // until the parent closes stdin
}
