package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heimdallhub/heimdall/projections/graph"
)

// tryGet is GET path with the instance token, for goroutines (it never
// fails the test itself).
func (in *instance) tryGet(path string) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodGet, "https://"+in.addr+path, nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+in.token)
	resp, err := in.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// poller calls check every few milliseconds until stopped, and counts the
// calls and the failures (with the first failure's description).
type poller struct {
	stop     chan struct{}
	wg       sync.WaitGroup
	calls    atomic.Int64
	failures atomic.Int64
	mu       sync.Mutex
	first    string
}

func poll(check func() error) *poller {
	p := &poller{stop: make(chan struct{})}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			select {
			case <-p.stop:
				return
			default:
			}
			p.calls.Add(1)
			if err := check(); err != nil {
				if p.failures.Add(1) == 1 {
					p.mu.Lock()
					p.first = err.Error()
					p.mu.Unlock()
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	return p
}

// end stops the poller and fails the test if a call failed or none was
// made.
func (p *poller) end(t *testing.T, what string) {
	t.Helper()
	close(p.stop)
	p.wg.Wait()
	if n := p.failures.Load(); n > 0 {
		t.Fatalf("%s: %d of %d calls failed, first: %s", what, n, p.calls.Load(), p.first)
	}
	if p.calls.Load() == 0 {
		t.Fatalf("%s: no call made", what)
	}
	t.Logf("%s: %d calls, none failed", what, p.calls.Load())
}

// waitFor polls cond until it holds or within passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var resumeLine = regexp.MustCompile(`resuming generation (\d+) \(graph \S+\) at (\d+)/(\d+) records`)

// TestRebuildResumesAfterKill9: a graph rebuild killed with kill -9 midway
// is resumed by the next `heimdall projections rebuild` from the killed
// one's stored offsets (not from 0), ends with the digest the graph had
// before, and the API answers throughout.
func TestRebuildResumesAfterKill9(t *testing.T) {
	in := newInstance(t)
	in.serve("serve", nil)
	s := in.store()
	ctx := context.Background()
	in.mustIngest(flowLines(0, 5000), "source=rebuild")
	in.waitProjected(s, 2*time.Minute)
	v1, e1, _ := s.Counts(ctx)
	d1, err := s.Digest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	g1, _ := s.ActiveGraph(ctx)
	var records int64
	for _, n := range in.topicEnds(t)[in.eventsT] {
		records += n
	}
	keys, _ := flowKeys(t, 42)
	reads := poll(func() error {
		code, _, err := in.tryGet("/v1/entities/" + keys[0])
		if err != nil || code != http.StatusOK {
			return fmt.Errorf("GET entity: %d %v", code, err)
		}
		return nil
	})

	// About 10 seconds at this rate: killed a fraction of the way in.
	rate := max(records/10, 100)
	first := in.start("rebuild-killed", nil, "projections", "rebuild", "-rate", strconv.FormatInt(rate, 10))
	var building graph.Generation
	var done int64
	waitFor(t, time.Minute, "the rebuild getting a quarter of the way", func() bool {
		gens, err := s.BuildingGenerations(ctx)
		if err != nil || len(gens) == 0 {
			return false
		}
		building = gens[0]
		offs, err := s.StoredOffsets(ctx, building, in.eventsT)
		if err != nil {
			return false
		}
		done = 0
		for _, n := range offs {
			done += n
		}
		return done >= records/4
	})
	first.kill9(t)
	if done >= records {
		t.Fatalf("the rebuild finished before the kill (%d of %d records)", done, records)
	}
	killedLog := in.logs("rebuild-killed")
	if !strings.Contains(killedLog, "records/s") || !strings.Contains(killedLog, "ETA") {
		t.Errorf("no progress lines from the killed rebuild:\n%s", killedLog)
	}
	t.Logf("rebuild of generation %d killed at %d of %d records", building.ID, done, records)

	status := in.mustRun("projections", "status")
	if !strings.Contains(status, fmt.Sprintf("generation %d is building", building.ID)) {
		t.Errorf("status does not show the building generation:\n%s", status)
	}
	if g, _ := s.ActiveGraph(ctx); g != g1 {
		t.Fatalf("the killed rebuild switched readers to %s", g)
	}

	out := in.mustRun("projections", "rebuild")
	reads.end(t, "reading an entity during the rebuilds")
	t.Logf("killed rebuild:\n%s\nstatus:\n%s\nresumed rebuild:\n%s", killedLog, status, out)
	m := resumeLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("the rebuild did not resume:\n%s", out)
	}
	if id, _ := strconv.ParseInt(m[1], 10, 64); id != building.ID {
		t.Fatalf("resumed generation %s, want %d:\n%s", m[1], building.ID, out)
	}
	if at, _ := strconv.ParseInt(m[2], 10, 64); at < done {
		t.Fatalf("resumed at %d records, but the killed rebuild had stored %d:\n%s", at, done, out)
	}
	if !strings.Contains(out, fmt.Sprintf("generation %d active", building.ID)) {
		t.Fatalf("the resumed generation was not activated:\n%s", out)
	}
	in.waitProjected(s, 2*time.Minute)
	v2, e2, _ := s.Counts(ctx)
	d2, _ := s.Digest(ctx)
	if v1 != v2 || e1 != e2 || d1 != d2 {
		t.Fatalf("the resumed rebuild changed the graph: %d/%d vertices, %d/%d edges, digest %s/%s", v1, v2, e1, e2, d1, d2)
	}
	if gens, _ := s.BuildingGenerations(ctx); len(gens) != 0 {
		t.Fatalf("generations still building: %+v", gens)
	}
	// The live projector follows the new generation.
	in.mustIngest(flowLines(5000, 10), "source=rebuild")
	in.waitProjected(s, time.Minute)
	if v3, _, _ := s.Counts(ctx); v3 != v2+20 {
		t.Fatalf("after the rebuild the live projector added %d vertices, want 20", v3-v2)
	}
}

// similarMatches returns the look-alikes of domain as "key similarity".
func (in *instance) similarMatches(domain string) ([]string, error) {
	code, b, err := in.tryGet("/v1/similar?limit=20&domain=" + url.QueryEscape(domain))
	if err != nil || code != http.StatusOK {
		return nil, fmt.Errorf("GET /v1/similar: %d %v", code, err)
	}
	var r struct {
		Matches []struct {
			Key        string  `json:"key"`
			Similarity float64 `json:"similarity"`
		} `json:"matches"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	out := make([]string, 0, len(r.Matches))
	for _, m := range r.Matches {
		out = append(out, fmt.Sprintf("%s %.6f", m.Key, m.Similarity))
	}
	return out, nil
}

// TestRebuildVectors: `heimdall projections rebuild vectors` recomputes the
// look-alike vectors into a new table and swaps it in; /v1/similar answers
// throughout and gives the same results after as before.
func TestRebuildVectors(t *testing.T) {
	in := newInstance(t)
	in.serve("serve", nil)
	s := in.store()
	var b bytes.Buffer
	for i := 0; i < 400; i++ {
		fmt.Fprintf(&b, `{"query":"host%d.example.com","answers":["198.51.%d.%d"]}`+"\n", i, 100+i/250, i%250)
	}
	for _, d := range []string{"paypal.com", "paypa1.com", "pay-pal.com", "paypall.com", "peypal.com"} {
		fmt.Fprintf(&b, `{"query":"%s","answers":["203.0.113.7"]}`+"\n", d)
	}
	in.mustIngest(b.Bytes(), "source=vectors")
	in.waitProjected(s, 2*time.Minute)
	queries := []string{"paypal.com", "host17.example.com"}
	before := map[string][]string{}
	for _, q := range queries {
		ms, err := in.similarMatches(q)
		if err != nil || len(ms) == 0 {
			t.Fatalf("look-alikes of %s before: %v %v", q, ms, err)
		}
		before[q] = ms
	}
	searches := poll(func() error {
		ms, err := in.similarMatches("paypal.com")
		if err != nil {
			return err
		}
		if len(ms) == 0 {
			return fmt.Errorf("no look-alikes")
		}
		return nil
	})
	// 405 domains at 100 a second: about 4 seconds.
	p := in.start("rebuild-vectors", nil, "projections", "rebuild", "-rate", "100", "vectors")
	sawStatus := false
	waitFor(t, 2*time.Minute, "the vector rebuild", func() bool {
		select {
		case <-p.done:
			return true
		default:
		}
		if !sawStatus {
			out, _ := in.run(nil, "projections", "status")
			sawStatus = strings.Contains(out, "vector rebuild of generation")
		}
		return false
	})
	searches.end(t, "searching look-alikes during the vector rebuild")
	out := in.logs("rebuild-vectors")
	if p.cmd.ProcessState.ExitCode() != 0 {
		t.Fatalf("vector rebuild failed:\n%s", out)
	}
	if !strings.Contains(out, "vectors of generation") || !strings.Contains(out, "swapped in") || !strings.Contains(out, "vertices/s") {
		t.Fatalf("vector rebuild output:\n%s", out)
	}
	if !sawStatus {
		t.Error("status never showed the vector rebuild in progress")
	}
	t.Logf("vector rebuild:\n%s", out)
	for _, q := range queries {
		ms, err := in.similarMatches(q)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(ms, "\n") != strings.Join(before[q], "\n") {
			t.Fatalf("look-alikes of %s changed:\nbefore %v\nafter  %v", q, before[q], ms)
		}
	}
	// New domains get vectors in the new table.
	in.mustIngest([]byte(`{"query":"paypal-secure.com","answers":["203.0.113.8"]}`+"\n"), "source=vectors")
	in.waitProjected(s, time.Minute)
	ms, err := in.similarMatches("paypal.com")
	if err != nil || !strings.Contains(strings.Join(ms, " "), mustKey(t, "domain-name", "paypal-secure.com")) {
		t.Fatalf("a domain ingested after the swap is not found: %v %v", ms, err)
	}
}

// auditEntries returns every audit trail entry by event id, as JSON.
func (in *instance) auditEntries() (map[string]string, error) {
	out := map[string]string{}
	before := ""
	for {
		path := "/v1/audit?limit=1000"
		if before != "" {
			path += "&before=" + url.QueryEscape(before)
		}
		code, b, err := in.tryGet(path)
		if err != nil || code != http.StatusOK {
			return nil, fmt.Errorf("GET /v1/audit: %d %v", code, err)
		}
		var page struct {
			Entries []json.RawMessage `json:"entries"`
			Next    string            `json:"next"`
		}
		if err := json.Unmarshal(b, &page); err != nil {
			return nil, err
		}
		for _, raw := range page.Entries {
			var e struct {
				EventID string `json:"event_id"`
			}
			if err := json.Unmarshal(raw, &e); err != nil {
				return nil, err
			}
			out[e.EventID] = string(raw)
		}
		if page.Next == "" || len(page.Entries) == 0 {
			return out, nil
		}
		before = page.Next
	}
}

// requestIDs returns the request ids of the entries.
func requestIDs(t *testing.T, entries map[string]string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, raw := range entries {
		var e struct {
			RequestID string `json:"request_id"`
		}
		if err := json.Unmarshal([]byte(raw), &e); err != nil {
			t.Fatal(err)
		}
		out[e.RequestID] = true
	}
	return out
}

// TestRebuildAudit: `heimdall projections rebuild audit`, killed with
// kill -9 midway and run again, resumes, rebuilds the audit trail from the
// audit topic while GET /v1/audit keeps answering and ingests go on, and
// swaps it in: every entry from before is there unchanged, and no entry of
// the ingests during the rebuild is lost.
func TestRebuildAudit(t *testing.T) {
	in := newInstance(t)
	// The test reads the audit trail as fast as it can while it rebuilds:
	// the per-caller limit of the audit route (TestEdgeRateLimit) is off.
	in.serve("serve", map[string]string{"HEIMDALL_RATE_AUDIT_PER_SECOND": "0"})
	for i := 0; i < 150; i++ {
		in.mustIngest(flowLines(i, 1), "source=audit-rebuild")
	}
	var before map[string]string
	waitFor(t, time.Minute, "150 audit entries", func() bool {
		var err error
		before, err = in.auditEntries()
		return err == nil && len(before) >= 150
	})

	// Ingests and audit reads go on throughout.
	var mu sync.Mutex
	var requests []string
	writes := poll(func() error {
		code, res, err := in.ingest(flowLines(1000, 1), "source=audit-rebuild", nil)
		if err != nil || code != http.StatusOK {
			return fmt.Errorf("ingest: %d %v", code, err)
		}
		mu.Lock()
		requests = append(requests, res.RequestID)
		mu.Unlock()
		return nil
	})
	reads := poll(func() error {
		code, _, err := in.tryGet("/v1/audit?limit=10")
		if err != nil || code != http.StatusOK {
			return fmt.Errorf("GET /v1/audit: %d %v", code, err)
		}
		return nil
	})

	s := in.store()
	ctx := context.Background()
	killed := in.start("rebuild-audit-killed", nil, "projections", "rebuild", "-rate", "20", "audit")
	waitFor(t, time.Minute, "the audit rebuild getting 40 entries in", func() bool {
		var n int64
		err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM heimdall_audit.log_next`).Scan(&n)
		return err == nil && n >= 40
	})
	killed.kill9(t)
	status := in.mustRun("projections", "status")
	if !strings.Contains(status, "audit trail rebuild:") || !strings.Contains(status, "audit trail (topic") {
		t.Errorf("status does not show the audit trail and its rebuild:\n%s", status)
	}
	out, err := in.run(nil, "projections", "rebuild", "-rate", "60", "audit")
	writes.end(t, "ingesting during the audit rebuild")
	reads.end(t, "reading the audit trail during the audit rebuild")
	if err != nil {
		t.Fatalf("audit rebuild: %v\n%s", err, out)
	}
	t.Logf("status:\n%s\nresumed audit rebuild:\n%s", status, out)
	if !strings.Contains(out, "resuming the audit trail rebuild") || !strings.Contains(out, "audit trail swapped in") {
		t.Fatalf("audit rebuild output:\n%s", out)
	}
	m := regexp.MustCompile(`resuming the audit trail rebuild \(topic \S+\) at (\d+)/`).FindStringSubmatch(out)
	if m == nil || m[1] == "0" {
		t.Fatalf("the audit rebuild did not resume where the killed one stopped:\n%s", out)
	}
	mu.Lock()
	during := append([]string{}, requests...)
	mu.Unlock()
	if len(during) == 0 {
		t.Fatal("no ingest during the rebuild")
	}
	var after map[string]string
	waitFor(t, time.Minute, "the audit entries of every ingest", func() bool {
		after, err = in.auditEntries()
		if err != nil {
			return false
		}
		ids := requestIDs(t, after)
		for _, r := range during {
			if !ids[r] {
				return false
			}
		}
		return true
	})
	for id, e := range before {
		if after[id] != e {
			t.Fatalf("entry %s changed:\nbefore %s\nafter  %s", id, e, after[id])
		}
	}
	if len(after) != len(before)+len(during) {
		t.Fatalf("%d entries after, want %d before + %d ingests during the rebuild", len(after), len(before), len(during))
	}
	t.Logf("%d entries before, %d ingests during the rebuild, all there after", len(before), len(during))
	// The live projector goes on in the swapped-in trail.
	res := in.mustIngest(flowLines(2000, 1), "source=audit-rebuild")
	waitFor(t, time.Minute, "the audit entry of an ingest after the rebuild", func() bool {
		e, err := in.auditEntries()
		return err == nil && requestIDs(t, e)[res.RequestID]
	})
}
