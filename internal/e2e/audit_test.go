package e2e

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/heimdallhub/heimdall/internal/observable"
)

// TestAuditTrail: every write is in the audit trail with actor, request id
// and time; admins filter it by actor, action and record; nobody else reads
// it; a write without an authenticated actor is refused.
func TestAuditTrail(t *testing.T) {
	in := newInstance(t)
	in.serve("serve", nil)
	res := in.mustIngest([]byte(`{"src_ip":"192.0.2.1","dst_ip":"192.0.2.2","email":"someone@example.org"}`+"\n"), "source=audit")
	key := in.personalKey("email-addr", "someone@example.org")
	in.waitProjected(in.store(), time.Minute)
	if code, _ := in.decrypt(in.token, decryptItem{Record: key, Field: "value"}); code != http.StatusOK {
		t.Fatalf("decrypt: %d", code)
	}
	bob := in.st.TokenForUser(t, "bob")
	if code, _ := in.decrypt(bob, decryptItem{Record: key, Field: "value"}); code != http.StatusForbidden {
		t.Fatalf("bob decrypt: %d", code)
	}
	// A write without an actor is refused (and not audited).
	resp, err := in.client.Post("https://"+in.addr+"/v1/ingest", "application/x-ndjson", bytes.NewReader([]byte(`{"src_ip":"192.0.2.9"}`+"\n")))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous write: %d", resp.StatusCode)
	}

	type entry struct {
		EventID    string            `json:"event_id"`
		Action     string            `json:"action"`
		Outcome    string            `json:"outcome"`
		Actor      string            `json:"actor"`
		RequestID  string            `json:"request_id"`
		RecordedAt time.Time         `json:"recorded_at"`
		Records    []string          `json:"records"`
		Details    map[string]string `json:"details"`
	}
	var trail struct {
		Entries []entry `json:"entries"`
		Next    string  `json:"next"`
	}
	deadline := time.Now().Add(time.Minute)
	for {
		trail.Entries = nil
		if code := in.get("/v1/audit", &trail); code != http.StatusOK {
			t.Fatalf("GET /v1/audit: %d", code)
		}
		if len(trail.Entries) >= 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	actions := map[string]entry{}
	for _, e := range trail.Entries {
		if e.Actor == "" || e.RequestID == "" || e.RecordedAt.IsZero() {
			t.Errorf("entry without actor, request id or time: %+v", e)
		}
		actions[e.Action+"/"+e.Outcome] = e
	}
	ing, ok := actions["ingest/done"]
	if !ok || ing.RequestID != res.RequestID || ing.Details["accepted"] != "1" || ing.Details["source"] != "audit" {
		t.Fatalf("ingest entry: %+v (all: %+v)", ing, trail.Entries)
	}
	if _, ok := actions["decrypt/decrypted=1"]; !ok {
		t.Fatalf("decryption entry missing: %+v", trail.Entries)
	}
	if _, ok := actions["decrypt/denied=1"]; !ok {
		t.Fatalf("denied decryption entry missing: %+v", trail.Entries)
	}
	for _, e := range trail.Entries {
		for _, v := range e.Details {
			if strings.Contains(v, "someone@example.org") {
				t.Fatal("the audit trail holds a personal value")
			}
		}
	}
	// Filters and pagination.
	var one struct {
		Entries []entry `json:"entries"`
		Next    string  `json:"next"`
	}
	if code := in.get("/v1/audit?action=ingest&record="+url.QueryEscape(res.BatchID), &one); code != http.StatusOK || len(one.Entries) != 1 {
		t.Fatalf("filter by action and record: %d %+v", code, one)
	}
	if code := in.get("/v1/audit?actor="+url.QueryEscape(ing.Actor)+"&limit=1", &one); code != http.StatusOK || len(one.Entries) != 1 || one.Next == "" {
		t.Fatalf("filter by actor, page 1: %d %+v", code, one)
	}
	first := one.Entries[0].EventID
	if code := in.get("/v1/audit?actor="+url.QueryEscape(ing.Actor)+"&limit=1&before="+one.Next, &one); code != http.StatusOK || len(one.Entries) != 1 || one.Entries[0].EventID == first {
		t.Fatalf("filter by actor, page 2: %d %+v", code, one)
	}
	if code := in.get("/v1/audit?since="+url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339)), &one); code != http.StatusOK || len(one.Entries) != 0 {
		t.Fatalf("since the future: %d %+v", code, one)
	}
	if code := in.getAs(bob, "/v1/audit", nil); code != http.StatusForbidden {
		t.Fatalf("analyst reading the audit trail: %d", code)
	}
}

// patch sends PATCH path with a JSON body.
func (in *instance) patch(token, path, body string) int {
	in.t.Helper()
	req, _ := http.NewRequest(http.MethodPatch, "https://"+in.addr+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := in.client.Do(req)
	if err != nil {
		in.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestClassificationPatch: a classify-permitted caller changes an entity's
// level through the API; readers follow; the change is audited; callers
// without the permission, or above their clearance, are refused.
func TestClassificationPatch(t *testing.T) {
	in := newInstance(t)
	in.serve("serve", nil)
	in.mustIngest([]byte(`{"query":"review.example.net","answers":["198.51.100.77"]}`+"\n"), "source=classify")
	in.waitProjected(in.store(), time.Minute)
	dom := "/v1/entities/" + mustKey(t, "domain-name", "review.example.net")
	bob := in.st.TokenForUser(t, "bob") // read only, CONFIDENTIAL
	if code := in.getAs(bob, dom, nil); code != http.StatusOK {
		t.Fatalf("bob before: %d", code)
	}
	key := strings.TrimPrefix(dom, "/v1/entities/")
	if code := in.patch(bob, "/v1/records/"+key+"/classification", `{"level":"UNCLASSIFIED"}`); code != http.StatusForbidden {
		t.Fatalf("bob classifying: %d", code)
	}
	if code := in.patch(in.token, "/v1/records/"+key+"/classification", `{"level":"SECRET","reason":"under review"}`); code != http.StatusAccepted {
		t.Fatalf("classifying: %d", code)
	}
	if code := in.patch(in.token, "/v1/records/"+key+"/classification", `{"level":"COSMIC"}`); code != http.StatusBadRequest {
		t.Fatalf("unknown level: %d", code)
	}
	if code := in.patch(in.token, "/v1/records/domain-name--00000000-0000-5000-8000-000000000000/classification", `{"level":"SECRET"}`); code != http.StatusNotFound {
		t.Fatalf("unknown record: %d", code)
	}
	in.waitProjected(in.store(), time.Minute)
	if code := in.getAs(bob, dom, nil); code != http.StatusNotFound {
		t.Fatalf("bob after SECRET: %d", code)
	}
	var e struct {
		Classification string `json:"classification"`
	}
	if code := in.get(dom, &e); code != http.StatusOK || e.Classification != "SECRET" {
		t.Fatalf("admin after SECRET: %d %+v", code, e)
	}
	var trail struct {
		Entries []struct {
			Action  string            `json:"action"`
			Actor   string            `json:"actor"`
			Records []string          `json:"records"`
			Details map[string]string `json:"details"`
		} `json:"entries"`
	}
	deadline := time.Now().Add(time.Minute)
	for {
		trail.Entries = nil
		in.get("/v1/audit?action=classify&record="+key, &trail)
		if len(trail.Entries) == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(trail.Entries) != 1 || trail.Entries[0].Details["level"] != "SECRET" || trail.Entries[0].Actor == "" {
		t.Fatalf("classification audit: %+v", trail.Entries)
	}
}

func mustKey(t *testing.T, kind, value string) string {
	t.Helper()
	o, err := observable.Canonicalize(observable.Kind(kind), value)
	if err != nil {
		t.Fatal(err)
	}
	return o.Key()
}

// TestRetractionThroughAPI: an admin retracts a batch; what only it saw is
// gone, what another batch also saw stays; analysts may not retract.
func TestRetractionThroughAPI(t *testing.T) {
	in := newInstance(t)
	in.serve("serve", nil)
	in.mustIngest([]byte(`{"query":"kept.example.net","answers":["198.51.100.10"]}`+"\n"), "source=feed-a")
	bad := in.mustIngest([]byte(`{"query":"kept.example.net","answers":["198.51.100.10"]}
{"query":"bogus.example.net","answers":["198.51.100.11"]}
`), "source=feed-b")
	in.waitProjected(in.store(), time.Minute)
	post := func(token, body string) int {
		req, _ := http.NewRequest(http.MethodPost, "https://"+in.addr+"/v1/retractions", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := in.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(in.st.TokenForUser(t, "bob"), `{"scope":"batch","id":"`+bad.BatchID+`"}`); code != http.StatusForbidden {
		t.Fatalf("analyst retracting: %d", code)
	}
	if code := post(in.token, `{"scope":"everything","id":"x"}`); code != http.StatusBadRequest {
		t.Fatalf("bad scope: %d", code)
	}
	if code := post(in.token, `{"scope":"batch","id":"`+bad.BatchID+`","reason":"feed-b sent test data"}`); code != http.StatusAccepted {
		t.Fatalf("retracting: %d", code)
	}
	in.waitProjected(in.store(), time.Minute)
	if code := in.get("/v1/entities/"+mustKey(t, "domain-name", "bogus.example.net"), nil); code != http.StatusNotFound {
		t.Fatalf("what only the retracted batch saw: %d", code)
	}
	var e struct {
		Sources []string `json:"sources"`
	}
	if code := in.get("/v1/entities/"+mustKey(t, "domain-name", "kept.example.net"), &e); code != http.StatusOK || len(e.Sources) != 1 || e.Sources[0] != "feed-a" {
		t.Fatalf("what another batch also saw: %d %+v", code, e)
	}
}
