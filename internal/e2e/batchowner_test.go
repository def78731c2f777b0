package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heimdallhub/heimdall/internal/config/devstack"
)

// ingestAs posts body as the holder of token; on 200 it returns the result.
func (in *instance) ingestAs(token string, body []byte, query string, headers map[string]string) (int, ingestResult) {
	in.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "https://"+in.addr+"/v1/ingest?"+query, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/x-ndjson")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := in.client.Do(req)
	if err != nil {
		in.t.Fatalf("ingest: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var res ingestResult
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, &res); err != nil {
			in.t.Fatalf("decoding ingest response: %v: %s", err, b)
		}
	}
	return resp.StatusCode, res
}

// retractAs posts a retraction as the holder of token.
func (in *instance) retractAs(token, body string) int {
	in.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "https://"+in.addr+"/v1/retractions", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := in.client.Do(req)
	if err != nil {
		in.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// eventIDsOf lists the event ids the graph's provenance holds for a batch.
func (in *instance) eventIDsOf(batchID string) []string {
	in.t.Helper()
	ctx := context.Background()
	s := in.store()
	g, err := s.ActiveGraph(ctx)
	if err != nil {
		in.t.Fatal(err)
	}
	rows, err := s.Pool().Query(ctx, `SELECT DISTINCT event_id::text FROM "`+g+`".provenance WHERE batch_id = $1 ORDER BY 1`, batchID)
	if err != nil {
		in.t.Fatal(err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			in.t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// TestBatchesBelongToTheirActor: two actors sending the same
// Idempotency-Key get two batches with disjoint event ids; each sees only
// its own batch's status (the other's is 404, for an admin too); the same
// actor re-sending its key gets the same batch and event ids (nothing
// doubled); retracting one actor's batch leaves the other's.
func TestBatchesBelongToTheirActor(t *testing.T) {
	in := newInstance(t)
	in.serve("serve", nil)
	admin := in.token // heimdall-cli: admin and ingest, TOP SECRET
	carol := in.st.TokenForUser(t, devstack.UserCarol)
	const key = "shared-key-0001"
	// Timed records: event ids derive from the batch id, the record's place
	// and its time (an untimed record is stamped when it is read).
	body := []byte(`{"ts":"2026-11-02T10:00:00Z","query":"shared.example.net","answers":["198.51.100.40"]}` + "\n" +
		`{"ts":"2026-11-02T10:00:01Z","query":"own.example.net","answers":["198.51.100.41"]}` + "\n")
	hdr := map[string]string{"Idempotency-Key": key}

	codeA, a := in.ingestAs(admin, body, "source=actor-a", hdr)
	codeC, c := in.ingestAs(carol, body, "source=actor-c", hdr)
	if codeA != http.StatusOK || codeC != http.StatusOK {
		t.Fatalf("ingest with one key by two actors: %d, %d\n%s", codeA, codeC, in.logs("serve"))
	}
	if a.BatchID == c.BatchID || a.BatchID == key || c.BatchID == key {
		t.Fatalf("batch ids: %q and %q for key %q", a.BatchID, c.BatchID, key)
	}
	in.waitProjected(in.store(), time.Minute)
	idsA, idsC := in.eventIDsOf(a.BatchID), in.eventIDsOf(c.BatchID)
	if len(idsA) == 0 || len(idsA) != len(idsC) {
		t.Fatalf("event ids: %d of %s, %d of %s", len(idsA), a.BatchID, len(idsC), c.BatchID)
	}
	for _, id := range idsA {
		if slices.Contains(idsC, id) {
			t.Fatalf("event id %s is in both batches", id)
		}
	}

	// The same actor and key: the same batch and event ids.
	if code, again := in.ingestAs(carol, body, "source=actor-c", hdr); code != http.StatusOK || again.BatchID != c.BatchID {
		t.Fatalf("re-sent batch: %d %q, want %q", code, again.BatchID, c.BatchID)
	}
	in.waitProjected(in.store(), time.Minute)
	if ids := in.eventIDsOf(c.BatchID); !slices.Equal(ids, idsC) {
		t.Fatalf("re-sending changed the batch's event ids: %d, was %d", len(ids), len(idsC))
	}

	// Status: each its own; the other's does not exist, nor does the key.
	for _, s := range []struct {
		who, token, batch string
		want              int
	}{
		{"admin", admin, a.BatchID, http.StatusOK},
		{"carol", carol, c.BatchID, http.StatusOK},
		{"carol", carol, a.BatchID, http.StatusNotFound},
		{"admin", admin, c.BatchID, http.StatusNotFound},
		{"carol", carol, key, http.StatusNotFound},
	} {
		var st struct {
			BatchID string `json:"batch_id"`
			State   string `json:"state"`
		}
		code := in.getAs(s.token, "/v1/batches/"+s.batch, &st)
		if code != s.want || (code == http.StatusOK && (st.BatchID != s.batch || st.State != "done")) {
			t.Errorf("%s reading batch %s: %d %+v, want %d", s.who, s.batch, code, st, s.want)
		}
	}

	// Retracting the admin's batch leaves carol's, which used the same key.
	if code := in.retractAs(admin, `{"scope":"batch","id":"`+a.BatchID+`","reason":"test"}`); code != http.StatusAccepted {
		t.Fatalf("retracting: %d", code)
	}
	in.waitProjected(in.store(), time.Minute)
	var e struct {
		Sources []string `json:"sources"`
	}
	if code := in.get("/v1/entities/"+mustKey(t, "domain-name", "own.example.net"), &e); code != http.StatusOK || !slices.Equal(e.Sources, []string{"actor-c"}) {
		t.Fatalf("carol's record after retracting the admin's batch: %d %+v", code, e)
	}
	if ids := in.eventIDsOf(c.BatchID); !slices.Equal(ids, idsC) {
		t.Fatalf("retracting the admin's batch took %d of carol's %d events", len(idsC)-len(ids), len(idsC))
	}
}

// TestRetractionBoundedByClearance: an admin cleared CONFIDENTIAL (bob,
// given the admin permission through HEIMDALL_ROLE_GRANTS) retracting a
// batch removes what it may see and leaves the batch's TOP SECRET record
// untouched; the retraction is audited with its clearance; a TOP SECRET
// admin's retraction of the same batch then takes the rest.
func TestRetractionBoundedByClearance(t *testing.T) {
	in := newInstance(t)
	in.serve("serve", map[string]string{"HEIMDALL_ROLE_GRANTS": "heimdall-admin=admin+read+ingest+classify+decrypt;" +
		"heimdall-analyst=read+admin;heimdall-ingest=ingest;heimdall-peer=peer"})
	bob := in.st.TokenForUser(t, devstack.UserBob) // now admin, CONFIDENTIAL
	res := in.mustIngest([]byte(`{"query":"open.example.net","answers":["198.51.100.50"]}`+"\n"+
		`{"query":"closed.example.net","answers":["198.51.100.51"]}`+"\n"), "source=bounded")
	open, closed := "/v1/entities/"+mustKey(t, "domain-name", "open.example.net"), "/v1/entities/"+mustKey(t, "domain-name", "closed.example.net")
	in.waitProjected(in.store(), time.Minute)
	if code := in.patch(in.token, "/v1/records/"+mustKey(t, "domain-name", "closed.example.net")+"/classification", `{"level":"TOP SECRET","reason":"test"}`); code != http.StatusAccepted {
		t.Fatalf("classifying: %d", code)
	}
	in.waitProjected(in.store(), time.Minute)
	type view struct {
		Classification string    `json:"classification"`
		Sources        []string  `json:"sources"`
		FirstSeen      time.Time `json:"first_seen"`
		LastSeen       time.Time `json:"last_seen"`
	}
	var before view
	if code := in.get(closed, &before); code != http.StatusOK || before.Classification != "TOP SECRET" {
		t.Fatalf("the TOP SECRET record before: %d %+v", code, before)
	}
	events := len(in.eventIDsOf(res.BatchID))

	if code := in.retractAs(bob, `{"scope":"batch","id":"`+res.BatchID+`","reason":"bad feed"}`); code != http.StatusAccepted {
		t.Fatalf("bob retracting: %d", code)
	}
	in.waitProjected(in.store(), time.Minute)
	if code := in.get(open, nil); code != http.StatusNotFound {
		t.Fatalf("the UNCLASSIFIED record after bob's retraction: %d", code)
	}
	var after view
	if code := in.get(closed, &after); code != http.StatusOK || after.Classification != before.Classification ||
		!slices.Equal(after.Sources, before.Sources) || !after.FirstSeen.Equal(before.FirstSeen) || !after.LastSeen.Equal(before.LastSeen) {
		t.Fatalf("the TOP SECRET record after bob's retraction: %d %+v, was %+v", code, after, before)
	}
	left := len(in.eventIDsOf(res.BatchID))
	if left == 0 || left >= events {
		t.Fatalf("provenance of the batch: %d of %d events left after bob's retraction", left, events)
	}

	var trail struct {
		Entries []struct {
			Details map[string]string `json:"details"`
		} `json:"entries"`
	}
	deadline := time.Now().Add(time.Minute)
	for len(trail.Entries) == 0 && time.Now().Before(deadline) {
		in.get("/v1/audit?action=retract&record=batch:"+res.BatchID, &trail)
		if len(trail.Entries) == 0 {
			time.Sleep(200 * time.Millisecond)
		}
	}
	if len(trail.Entries) != 1 || trail.Entries[0].Details["clearance"] != "CONFIDENTIAL" || trail.Entries[0].Details["id"] != res.BatchID {
		t.Fatalf("retraction audit: %+v", trail.Entries)
	}

	if code := in.retractAs(in.token, `{"scope":"batch","id":"`+res.BatchID+`","reason":"bad feed"}`); code != http.StatusAccepted {
		t.Fatalf("TOP SECRET admin retracting: %d", code)
	}
	in.waitProjected(in.store(), time.Minute)
	if code := in.get(closed, nil); code != http.StatusNotFound {
		t.Fatalf("the TOP SECRET record after a TOP SECRET admin's retraction: %d", code)
	}
}
