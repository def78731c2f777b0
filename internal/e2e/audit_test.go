package e2e

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
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
