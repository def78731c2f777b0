package e2e

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/internal/kafka"
)

// TestReclassificationConflictAudited: a reclassification imported from a
// peer that did not see ours (concurrent vectors; its clock an hour ahead,
// so it wins) is recorded as one conflict: on the audit trail (action
// sync.conflict, with both peers) and in the conflicts metric. A
// reclassification made here afterwards reads the winner and is ordered
// after it despite that peer's clock: it wins, and is no conflict.
func TestReclassificationConflictAudited(t *testing.T) {
	in := newInstance(t)
	in.serve("serve", nil)
	in.mustIngest([]byte(`{"query":"conflict.example.net","answers":["198.51.100.91"]}`+"\n"), "source=conflicts")
	in.waitProjected(in.store(), time.Minute)
	key := mustKey(t, "domain-name", "conflict.example.net")
	level := func() string {
		var e struct {
			Classification string `json:"classification"`
		}
		if code := in.get("/v1/entities/"+key, &e); code != http.StatusOK {
			t.Fatalf("GET entity: %d", code)
		}
		return e.Classification
	}
	if code := in.patch(in.token, "/v1/records/"+key+"/classification", `{"level":"SECRET"}`); code != http.StatusAccepted {
		t.Fatalf("classifying: %d", code)
	}
	in.waitProjected(in.store(), time.Minute)

	// The remote change, as the sync importer appends it.
	codec, err := events.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	h := events.MakeHLC(time.Now().Add(time.Hour).UnixMilli(), 0)
	remote := events.Event{
		ID: events.NewID(), Key: key, OriginPeer: "site-remote", Vector: events.VersionVector{"site-remote": int64(h)}, HLC: h,
		Actor: events.Actor{Subject: "remote-admin", Issuer: "https://idp.remote.example"}, RequestID: "remote-req", BatchID: "remote-req",
		RecordedAt: h.Time(), Provenance: events.Provenance{Source: "api", Format: "classify"}, Classification: "UNCLASSIFIED",
		Payload: events.ClassificationChanged{RecordType: "entity", Level: "TOP SECRET", Reason: "remote review"},
	}
	b, err := codec.Encode(remote)
	if err != nil {
		t.Fatal(err)
	}
	p, err := kafka.NewProducer(kafkaConfig(t), kafka.ProducerOptions{DeliveryTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	done := make(chan error, 1)
	p.Append(context.Background(), in.eventsT, []byte(key), b,
		map[string]string{"heimdall.event_type": events.TypeClassificationChanged, "heimdall.sync.via": "site-remote"},
		func(err error) { done <- err })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	in.waitProjected(in.store(), time.Minute)
	if got := level(); got != "TOP SECRET" {
		t.Fatalf("after the remote change: %s", got)
	}

	type entry struct {
		EventID string            `json:"event_id"`
		Action  string            `json:"action"`
		Outcome string            `json:"outcome"`
		Records []string          `json:"records"`
		Details map[string]string `json:"details"`
	}
	conflicts := func() []entry {
		var trail struct {
			Entries []entry `json:"entries"`
		}
		if code := in.get("/v1/audit?action=sync.conflict&record="+url.QueryEscape(key), &trail); code != http.StatusOK {
			t.Fatalf("GET /v1/audit: %d", code)
		}
		return trail.Entries
	}
	deadline := time.Now().Add(time.Minute)
	var got []entry
	for {
		if got = conflicts(); len(got) > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	self := in.env["HEIMDALL_PEER_ID"]
	if len(got) != 1 || got[0].Outcome != "resolved" || got[0].Details["winner_peer"] != "site-remote" ||
		got[0].Details["loser_peer"] != self || got[0].Details["winner_event"] != remote.ID.String() ||
		got[0].Details["winner_level"] != "TOP SECRET" || got[0].Details["loser_level"] != "SECRET" || got[0].Details["rule"] != "lww-hlc" {
		t.Fatalf("conflict audit entries %+v\n%s", got, in.allLogs())
	}
	metric := func() float64 {
		mfs := parseMetrics(t, in.scrape())
		ms := mfs["heimdall_graph_reclassification_conflicts_total"].GetMetric()
		if len(ms) != 1 {
			t.Fatalf("no heimdall_graph_reclassification_conflicts_total")
		}
		return ms[0].GetCounter().GetValue()
	}
	if n := metric(); n != 1 {
		t.Fatalf("conflicts metric %v", n)
	}

	// A change made here now supersedes the remote one, whose HLC is an
	// hour ahead of our clock: it wins and is no conflict.
	if code := in.patch(in.token, "/v1/records/"+key+"/classification", `{"level":"CONFIDENTIAL"}`); code != http.StatusAccepted {
		t.Fatalf("classifying again: %d", code)
	}
	in.waitProjected(in.store(), time.Minute)
	if got := level(); got != "CONFIDENTIAL" {
		t.Fatalf("after the local change: %s", got)
	}
	time.Sleep(3 * time.Second) // an auditor round
	if n, es := metric(), conflicts(); n != 1 || len(es) != 1 {
		t.Fatalf("the superseding change was a conflict: metric %v, entries %+v", n, es)
	}
	if strings.Contains(in.logs("serve"), "auditing reclassification conflicts") {
		t.Fatalf("the auditor failed:\n%s", in.logs("serve"))
	}
}
