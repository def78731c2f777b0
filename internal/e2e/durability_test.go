package e2e

import (
	"context"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	chunkLines = 2000
	chunks     = 30
)

// ingestChunks posts chunks one after another until one fails or stop is
// closed, and returns the records of the acknowledged chunks.
func (in *instance) ingestChunks(stop <-chan struct{}, ackedCh chan<- int) []int {
	var acked []int
	for c := 0; c < chunks; c++ {
		select {
		case <-stop:
			return acked
		default:
		}
		code, res, err := in.ingest(flowLines(c*chunkLines, chunkLines), "source=durability", nil)
		if err != nil || code != http.StatusOK {
			return acked
		}
		if res.Accepted != chunkLines || res.Rows != chunkLines {
			in.t.Errorf("chunk %d: %+v", c, res)
		}
		for i := c * chunkLines; i < (c+1)*chunkLines; i++ {
			acked = append(acked, i)
		}
		if ackedCh != nil {
			ackedCh <- len(acked)
		}
	}
	return acked
}

// TestKill9DuringIngest: kill -9 of the all-in-one process in the middle of
// a large ingest; after a restart every record whose ingest was acknowledged
// is in the graph exactly once.
func TestKill9DuringIngest(t *testing.T) {
	in := newInstance(t)
	p := in.serve("serve", nil)
	progress := make(chan int, chunks)
	var acked []int
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); acked = in.ingestChunks(nil, progress) }()
	// Kill once several chunks were acknowledged, with more in flight.
	for n := range progress {
		if n >= 5*chunkLines {
			break
		}
	}
	p.kill9(t)
	wg.Wait()
	if len(acked) < 5*chunkLines || len(acked) == chunks*chunkLines {
		t.Fatalf("the kill did not land mid-ingest: %d records acknowledged", len(acked))
	}
	t.Logf("%d records acknowledged before kill -9", len(acked))

	in.serve("serve-restarted", nil)
	s := in.store()
	in.waitProjected(s, 3*time.Minute)
	assertExactlyOnce(t, s, acked)
}

// TestKill9Projector: with the projector in its own process, kill -9 it in
// the middle of projecting a large backlog; after a restart every
// acknowledged record is in the graph exactly once.
func TestKill9Projector(t *testing.T) {
	in := newInstance(t)
	in.serve("api", map[string]string{"HEIMDALL_COMPONENTS": "api,ingest"})
	acked := in.ingestChunks(nil, nil)
	if len(acked) != chunks*chunkLines {
		t.Fatalf("only %d records acknowledged", len(acked))
	}
	s := in.store()
	proj := in.start("projector", map[string]string{"HEIMDALL_PROJECTOR_BATCH_SIZE": "500"}, "projector")
	// Wait for the projector to be partway through the backlog.
	ctx := context.Background()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		v, _, err := s.Counts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if v > 1000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("projector made no progress:\n%s", in.logs("projector"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	proj.kill9(t)
	v, _, _ := s.Counts(ctx)
	if v >= int64(2*len(acked)) {
		t.Fatalf("the projector finished before the kill (%d vertices)", v)
	}
	t.Logf("projector killed with %d of %d vertices projected", v, 2*len(acked))
	in.start("projector-restarted", nil, "projector")
	in.waitProjected(s, 3*time.Minute)
	assertExactlyOnce(t, s, acked)
}

// TestIngestTwiceChangesNothing: the same file ingested again leaves vertex
// and edge counts and properties unchanged (apart from last-seen and
// provenance); with the same Idempotency-Key even provenance is unchanged.
func TestIngestTwiceChangesNothing(t *testing.T) {
	in := newInstance(t)
	in.serve("serve", nil)
	s := in.store()
	ctx := context.Background()
	data := flowLines(0, 3000)
	in.mustIngest(data, "source=twice&file=flows.ndjson")
	in.waitProjected(s, 2*time.Minute)
	v1, e1, _ := s.Counts(ctx)
	d1, err := s.Digest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	prov := func() int64 {
		g, _ := s.ActiveGraph(ctx)
		var n int64
		_ = s.Pool().QueryRow(ctx, `SELECT count(*) FROM "`+g+`".provenance`).Scan(&n)
		return n
	}
	p1 := prov()

	in.mustIngest(data, "source=twice&file=flows.ndjson")
	in.waitProjected(s, 2*time.Minute)
	v2, e2, _ := s.Counts(ctx)
	d2, _ := s.Digest(ctx)
	if v1 != v2 || e1 != e2 || d1 != d2 {
		t.Fatalf("second ingest changed the graph: %d/%d vertices, %d/%d edges, digest %s/%s", v1, v2, e1, e2, d1, d2)
	}
	if p2 := prov(); p2 != 2*p1 {
		t.Errorf("provenance: %d rows after two ingests, want %d", p2, 2*p1)
	}

	// A retried batch (same Idempotency-Key) has the same event ids.
	for i := 0; i < 2; i++ {
		code, _, err := in.ingest(data, "source=twice&file=flows.ndjson", map[string]string{"Idempotency-Key": "retry-batch-0001"})
		if err != nil || code != http.StatusOK {
			t.Fatalf("ingest: %d %v", code, err)
		}
	}
	in.waitProjected(s, 2*time.Minute)
	d3, _ := s.Digest(ctx)
	if d3 != d1 {
		t.Fatal("retried batch changed the graph")
	}
	if p3 := prov(); p3 != 3*p1 {
		t.Errorf("provenance after a batch sent twice with one key: %d rows, want %d", p3, 3*p1)
	}
}

// TestRebuildKeepsGraph: `heimdall projections rebuild` on a populated graph,
// while Heimdall serves, ends with the same counts and properties, and
// readers never see the entity vanish during the switch.
func TestRebuildKeepsGraph(t *testing.T) {
	in := newInstance(t)
	in.serve("serve", nil)
	s := in.store()
	ctx := context.Background()
	in.mustIngest(flowLines(0, 5000), "source=rebuild")
	in.waitProjected(s, 2*time.Minute)
	v1, e1, _ := s.Counts(ctx)
	d1, _ := s.Digest(ctx)
	g1, _ := s.ActiveGraph(ctx)
	keys, _ := flowKeys(t, 42)

	stop := make(chan struct{})
	var misses, reads int
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			reads++
			if code := in.get("/v1/entities/"+keys[0], nil); code != http.StatusOK {
				misses++
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	cmd := exec.Command(heimdallBinary(t), "projections", "rebuild")
	for k, v := range in.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("rebuild: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "active") {
		t.Errorf("rebuild output: %s", out)
	}
	g2, _ := s.ActiveGraph(ctx)
	if g2 == g1 {
		t.Fatalf("rebuild did not switch readers (still %s)", g1)
	}
	in.waitProjected(s, 2*time.Minute)
	v2, e2, _ := s.Counts(ctx)
	d2, _ := s.Digest(ctx)
	if v1 != v2 || e1 != e2 || d1 != d2 {
		t.Fatalf("rebuild changed the graph: %d/%d vertices, %d/%d edges, digest %s/%s", v1, v2, e1, e2, d1, d2)
	}
	if misses > 0 {
		t.Fatalf("readers missed the entity %d times in %d reads during the rebuild", misses, reads)
	}
	// The live projector follows the new generation.
	in.mustIngest(flowLines(5000, 10), "source=rebuild")
	in.waitProjected(s, time.Minute)
	if v3, _, _ := s.Counts(ctx); v3 != v2+20 {
		t.Fatalf("after the rebuild the live projector added %d vertices, want 20", v3-v2)
	}
}
