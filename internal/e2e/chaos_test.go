package e2e

import (
	"bufio"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/heimdallhub/heimdall/internal/config/devstack"
)

// chaosStack is a development stack of its own (PostgreSQL, Kafka, the
// Keycloak), started by deploy/stack.sh in a state directory and on
// ports apart from the shared stack's, so a test can kill its broker and
// its database without disturbing the tests that share the other one. The
// ports lie below Linux's range of outgoing (ephemeral) ports.
type chaosStack struct {
	script string
	env    []string // what deploy/stack.sh needs to address this stack
}

// newChaosStack starts a private stack and points the test's HEIMDALL_*
// environment at it (t.Setenv: the e2e tests never run in parallel). A
// stack left over by an earlier run that was killed is cleaned first.
func newChaosStack(t *testing.T) *chaosStack {
	t.Helper()
	root, err := devstack.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(os.TempDir(), "heimdall-chaos-stack")
	cs := &chaosStack{
		script: filepath.Join(root, "deploy", "stack.sh"),
		env: []string{
			"HEIMDALL_STACK_DIR=" + dir,
			"HEIMDALL_PG_PORT=25432",
			"HEIMDALL_KAFKA_PORT=29092",
			"HEIMDALL_KAFKA_CONTROLLER_PORT=29093",
			"HEIMDALL_KAFKA_MTLS_PORT=29094",
			"HEIMDALL_KEYCLOAK_PORT=28443",
			// A broker killed with many partitions recovers each one's log first.
			"HEIMDALL_KAFKA_WAIT_SECONDS=900",
		},
	}
	cs.run(t, "clean")
	t.Cleanup(func() { cs.run(t, "clean") })
	cs.run(t, "up")
	f, err := os.Open(filepath.Join(dir, "env"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "export ")
		if !ok {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		t.Setenv(k, strings.Trim(v, "'"))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return cs
}

// run runs deploy/stack.sh with the stack's settings.
func (cs *chaosStack) run(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("bash", append([]string{cs.script}, args...)...)
	cmd.Env = append(os.Environ(), cs.env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("stack.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// pid returns the pid `stack.sh status` shows for a component.
func (cs *chaosStack) pid(t *testing.T, component string) int {
	t.Helper()
	out := cs.run(t, "status")
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 4 && f[0] == component && f[1] == "up" {
			if pid, err := strconv.Atoi(f[3]); err == nil {
				return pid
			}
		}
	}
	t.Fatalf("%s is not up:\n%s", component, out)
	return 0
}

// kill kills a component with SIGKILL, leaves it down for a while, and
// starts it again (stack.sh up is idempotent).
func (cs *chaosStack) kill(t *testing.T, component string, down time.Duration) {
	t.Helper()
	pid := cs.pid(t, component)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 %s (%d): %v", component, pid, err)
	}
	t.Logf("kill -9 %s (pid %d)", component, pid)
	time.Sleep(down)
	start := time.Now()
	out := cs.run(t, "up")
	t.Logf("%s back after %s (pid %d):\n%s", component, time.Since(start).Round(time.Millisecond), cs.pid(t, component), out)
}

// TestSyncSurvivesBrokerAndPostgresKill is the whole failure drill of peer
// sync, on a stack of its own: three sites ingest random overlapping flows
// and reclassify the same record concurrently; one site is cut off by TCP
// proxies; b's sync agent dies by SIGKILL; then the Kafka broker and
// PostgreSQL that every site uses are killed with SIGKILL during
// replication and started again (any Heimdall process that exited is
// restarted, as a supervisor would). After healing, every site's graph has
// the same digest, every site holds the same events, none twice, and none
// came back to its origin.
func TestSyncSurvivesBrokerAndPostgresKill(t *testing.T) {
	requireStack(t)
	cs := newChaosStack(t)
	sites := newSites(t, 3)
	// One proxy per direction: proxies[x][y] is how x reaches y.
	proxies := map[string]map[string]*tcpProxy{}
	for _, x := range sites {
		proxies[x.id] = map[string]*tcpProxy{}
		links := map[string]peerLink{}
		for _, y := range sites {
			if x != y {
				proxies[x.id][y.id] = newTCPProxy(t, y.addr)
				links[y.id] = peerLink{url: proxies[x.id][y.id].url()}
			}
		}
		x.configure(t, sites, links, nil)
	}
	cut := func(victim *site, on bool) {
		for _, x := range sites {
			if x != victim {
				proxies[x.id][victim.id].setCut(on)
				proxies[victim.id][x.id].setCut(on)
			}
		}
	}
	type procs struct{ serve, sync *process }
	running := map[string]*procs{}
	for _, s := range sites {
		running[s.id] = &procs{serve: s.serve("serve", map[string]string{"HEIMDALL_COMPONENTS": "api,ingest,projector"}), sync: s.start("sync", nil, "sync")}
		s.store = s.store0()
	}
	a, b, c := sites[0], sites[1], sites[2]
	rng := rand.New(rand.NewPCG(3, 5))
	for i, s := range sites {
		s.mustIngest(randomFlows(rng, 6000, 10+i), "source="+s.id+"-chaos&file=before.ndjson")
	}
	// c is cut off; a and c reclassify one record without seeing each
	// other's change.
	cut(c, true)
	key := ipKey(t, "10.77.0.1")
	waitRecord(t, a, key)
	waitRecord(t, c, key)
	for _, r := range []struct {
		s     *site
		level string
	}{{a, "SECRET"}, {c, "CONFIDENTIAL"}} {
		if code := r.s.patch(r.s.token, "/v1/records/"+key+"/classification", `{"level":"`+r.level+`","reason":"chaos drill"}`); code != http.StatusAccepted {
			t.Fatalf("reclassify at %s: %d", r.s.id, code)
		}
	}
	// b's sync agent dies while a's next batch replicates.
	a.mustIngest(randomFlows(rng, 3000, 15), "source="+a.id+"-chaos&file=agent-kill.ndjson")
	time.Sleep(300 * time.Millisecond)
	running[b.id].sync.kill9(t)
	running[b.id].sync = b.start("sync-restarted", nil, "sync")
	// The broker dies while replication is under way; then the database.
	time.Sleep(500 * time.Millisecond)
	cs.kill(t, "kafka", 3*time.Second)
	time.Sleep(2 * time.Second)
	for i, s := range sites {
		s.mustIngest(randomFlows(rng, 3000, 20+i), "source="+s.id+"-chaos&file=between.ndjson")
	}
	time.Sleep(500 * time.Millisecond)
	cs.kill(t, "postgres", 3*time.Second)
	// Restart what exited; what kept running reconnects by itself.
	restarts := 0
	for _, s := range sites {
		p := running[s.id]
		select {
		case <-p.serve.done:
			restarts++
			p.serve = s.serve("serve-restarted", map[string]string{"HEIMDALL_COMPONENTS": "api,ingest,projector"})
		default:
		}
		select {
		case <-p.sync.done:
			restarts++
			p.sync = s.start("sync-restarted", nil, "sync")
		default:
		}
	}
	t.Logf("%d Heimdall processes exited and were restarted", restarts)
	for i, s := range sites {
		s.mustIngest(randomFlows(rng, 1000, 25+i), "source="+s.id+"-chaos&file=after.ndjson")
	}
	// Heal.
	cut(c, false)
	digest := waitConverged(t, sites, 5*time.Minute)
	var first map[string]int
	for _, s := range sites {
		set := map[string]int{}
		for _, e := range s.readLog(t) {
			set[e.id]++
			if e.origin == s.id && e.via != "" {
				t.Errorf("%s: event %s came back to its origin", s.id, e.id)
			}
		}
		dups := 0
		for _, n := range set {
			if n > 1 {
				dups++
			}
		}
		// Exactly once in every log, though agents died and the database
		// and broker failed between appends and their settling: claims
		// commit before the appends, and pending batches are resolved from
		// the log.
		t.Logf("%s: %d distinct events, %d appended twice", s.id, len(set), dups)
		if dups > 0 {
			t.Errorf("%s: %d events appended twice", s.id, dups)
		}
		if first == nil {
			first = set
			continue
		}
		for id := range first {
			if set[id] == 0 {
				t.Fatalf("%s lacks event %s", s.id, id)
			}
		}
		if len(set) != len(first) {
			t.Fatalf("%s holds %d events, %s %d", s.id, len(set), a.id, len(first))
		}
	}
	// Every site met the two concurrent reclassifications and recorded the
	// conflict (sync status counts it for the peers whose events took part).
	for _, s := range sites {
		out, err := s.run(nil, "sync", "status", "-json")
		if err != nil {
			t.Fatalf("%s: sync status: %v\n%s", s.id, err, out)
		}
		var status []struct {
			Peer      string `json:"peer"`
			Conflicts int64  `json:"conflicts"`
		}
		if err := json.Unmarshal([]byte(out), &status); err != nil {
			t.Fatalf("%s: sync status -json: %v\n%s", s.id, err, out)
		}
		var n int64
		for _, p := range status {
			n += p.Conflicts
		}
		if n == 0 {
			t.Errorf("%s recorded no conflict: %s", s.id, out)
		}
	}
	sameConflicts(t, sites)
	var v struct {
		Classification string `json:"classification"`
	}
	a.get("/v1/entities/"+key, &v)
	t.Logf("converged after a cut, an agent kill, a broker kill and a database kill: digest %s; the record reclassified concurrently is %s everywhere", digest, v.Classification)
}
