package migrate_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/aurora/vault-init/internal/keystore"
	"github.com/aurora/vault-init/internal/migrate"
	"github.com/aurora/vault-init/internal/vaulttest"
)

// clusterRunner runs migrate.Run against every node of a cluster, and
// logs their states after each run.
type clusterRunner struct {
	*runner
}

func newClusterRunner(t *testing.T, nodes []*vaulttest.Server, keys migrate.Keystore, data *keystore.InitData) *clusterRunner {
	r := &clusterRunner{runner: newRunner(t, nodes[0], keys, data)}
	r.nodes, r.describe = nodes, r.states
	return r
}

// states is every node's seal-status and HA role in a few words.
func (r *clusterRunner) states() string {
	var out []string
	for i, n := range r.nodes {
		st, err := n.Client("").Sys().SealStatusWithContext(context.Background())
		if err != nil {
			out = append(out, fmt.Sprintf("node%d: %v", i+1, err))
			continue
		}
		role := "sealed"
		if h := n.Health(); h != nil && !h.Sealed {
			role = "active"
			if h.Standby {
				role = "standby"
			}
		}
		out = append(out, fmt.Sprintf("node%d: %s type %s migration %t", i+1, role, st.Type, st.Migration))
	}
	return strings.Join(out, "; ")
}

// unsealNode submits keys to srv (without migrate) until it is unsealed:
// a Raft follower joins the cluster as its shares come in.
func unsealNode(t *testing.T, srv *vaulttest.Server, keys []string) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		for _, k := range keys {
			st, err := srv.Client("").Sys().UnsealWithContext(ctx, k)
			if err != nil {
				break
			}
			if !st.Sealed {
				srv.WaitFor("unsealed", 60*time.Second, vaulttest.Unsealed)
				return
			}
		}
		time.Sleep(time.Second)
	}
	t.Fatal("the keys did not unseal the node")
}

// waitActive waits until one of nodes is the active node and returns it.
func waitActive(t *testing.T, nodes []*vaulttest.Server, skip int) int {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		for i, n := range nodes {
			if h := n.Health(); i != skip && h != nil && h.Initialized && !h.Sealed && !h.Standby {
				return i
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatal("no active node")
	return -1
}

// waitVoters waits until the Raft configuration, as the active node tells
// it, has want voters. Followers join as non-voters and autopilot promotes
// them after about 10 s of stable health; a cluster of non-voters elects
// no new leader when its active node goes.
func waitVoters(t *testing.T, nodes []*vaulttest.Server, token string, want int) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	voters := 0
	for time.Now().Before(deadline) {
		if voters = nodes[waitActive(t, nodes, -1)].RaftVoters(token); voters == want {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("%d voters, want %d", voters, want)
}

// TestRaftClusterShamirToTransit walks a 3-node Raft cluster from Shamir
// to transit in Vault's documented HA order, with `vault-init migrate`
// run after each of the operator's steps: each standby restarted with the
// transit stanza takes the shares (one a run) and waits for the active
// node; then the operator restarts the active node with the new seal, a
// migrated standby takes over and migrates the cluster, and the next runs
// finish: every node unsealed on transit, the keystore holding the shares
// as recovery keys, and a restarted node unsealing itself.
func TestRaftClusterShamirToTransit(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a 3-node cluster and a transit Vault")
	}
	clusterWalk(t, false)
}

// TestRaftClusterStepDown is the same walk with the other operator's step
// that Vault documents: the active node is stepped down (sys/step-down), a
// migrated standby takes over and migrates the cluster, and the old active
// node, still on its Shamir stanza, is then restarted with the new seal.
func TestRaftClusterStepDown(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a 3-node cluster and a transit Vault")
	}
	clusterWalk(t, true)
}

func clusterWalk(t *testing.T, stepDown bool) {
	nodes := vaulttest.Cluster(t, 3, 3)
	ctx := context.Background()
	resp, err := nodes[0].Client("").Sys().InitWithContext(ctx, &api.InitRequest{SecretShares: 5, SecretThreshold: 3})
	if err != nil {
		t.Fatal(err)
	}
	orig := &keystore.InitData{Version: keystore.FormatVersion, CreatedAt: time.Now().UTC(), VaultAddr: nodes[0].Addr(),
		SecretShares: 5, SecretThreshold: 3, Keys: resp.Keys, KeysB64: resp.KeysB64, RootToken: resp.RootToken, SealType: migrate.Shamir}
	keys := keystore.New(t.TempDir()).Keys
	if err := keys.Save(orig); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		unsealNode(t, n, orig.Keys)
	}
	waitVoters(t, nodes, orig.RootToken, 3)
	active := waitActive(t, nodes, -1)
	r := newClusterRunner(t, nodes, keys, orig)
	r.mustRun(migrate.Nothing)
	stanza, _ := vaulttest.TransitSeal(t)

	// The standbys, one at a time.
	var standbys []int
	for i := range nodes {
		if i != active {
			standbys = append(standbys, i)
		}
	}
	for k, i := range standbys {
		reseal(t, nodes[i], stanza)
		res := r.mustRun(migrate.WaitingForLeader)
		if res.Node != nodes[i].Addr() || len(res.Waiting) != k+1 {
			t.Fatalf("result %+v, want node%d to take the shares", res, i+1)
		}
		if d := load(t, keys); d.Pending == nil || d.Pending.SealType != "transit" {
			t.Fatalf("the keystore does not keep the migration pending: %s", d)
		}
	}
	if res := r.mustRun(migrate.WaitingForLeader); res.Node != "" || !strings.Contains(res.String(), "restart the active node") {
		t.Fatalf("with every standby waiting: %s", res)
	}

	// The operator's step, once the restarted standbys are voters again:
	// the active node restarted with the new seal, or stepped down and
	// then restarted with it.
	waitVoters(t, nodes, orig.RootToken, 3)
	if stepDown {
		if err := nodes[active].Client(orig.RootToken).Sys().StepDownWithContext(ctx); err != nil {
			t.Fatalf("step-down: %v", err)
		}
		next := waitActive(t, nodes, active)
		t.Logf("node%d is active after node%d stepped down: %s", next+1, active+1, r.states())
		_, err := r.run()
		t.Logf("migrate with the old active node still on shamir: %v", err)
		if !errors.Is(err, migrate.ErrDisagree) || !strings.Contains(err.Error(), "Restart each node on another seal") {
			t.Fatalf("error %v, want ErrDisagree with the operator's step", err)
		}
	}
	reseal(t, nodes[active], stanza)
	next := waitActive(t, nodes, active)
	t.Logf("node%d is active after node%d restarted: %s", next+1, active+1, r.states())
	var res migrate.Result
	for try := 0; ; try++ {
		res, err = r.run()
		if err == nil && (res.Outcome == migrate.Migrated || res.Outcome == migrate.Finished || res.Outcome == migrate.Nothing) &&
			load(t, keys).Pending == nil {
			break
		}
		if try == 5 {
			t.Fatalf("the cluster did not finish: %v %v", res, err)
		}
		time.Sleep(2 * time.Second)
	}
	for i, n := range nodes {
		if st := sealStatus(t, n); st.Sealed || st.Type != "transit" || st.Migration || !st.RecoverySeal {
			t.Fatalf("node%d: %+v", i+1, st)
		}
	}
	wantAuto(t, load(t, keys), orig, "transit")
	r.mustRun(migrate.Nothing)
	restart := standbys[0]
	nodes[restart].Stop()
	nodes[restart].Restart()
	nodes[restart].WaitFor("auto-unsealed after a restart", 60*time.Second, vaulttest.Unsealed)
	generateRoot(t, nodes[waitActive(t, nodes, -1)], load(t, keys).GenerateRootKeys())
}
