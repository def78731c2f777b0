package graph

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/heimdallhub/heimdall/events"
)

type fakeOutbox struct {
	cs      []Conflict
	audited int
}

func (o *fakeOutbox) UnauditedConflicts(_ context.Context, limit int) (Generation, []Conflict, error) {
	return Generation{ID: 1}, o.cs[:min(limit, len(o.cs))], nil
}

func (o *fakeOutbox) MarkConflictsAudited(_ context.Context, _ Generation, cs []Conflict) error {
	o.audited += len(cs)
	o.cs = o.cs[len(cs):]
	return nil
}

// The audit event of a conflict names both events, their peers and levels
// and the rule; its id depends only on the two events and the detecting
// peer. The auditor marks conflicts only once their events are appended.
func TestConflictAudit(t *testing.T) {
	c, ok := DetectConflict(RecordEntity, "domain-name--0001",
		rcv("SECRET", hlc(2), "site-a", 1, events.VersionVector{"site-a": 2}),
		rcv("UNCLASSIFIED", hlc(3), "site-b", 2, events.VersionVector{"site-b": 3}))
	if !ok {
		t.Fatal("no conflict")
	}
	c.DetectedAt = t0.Add(time.Hour)
	e := ConflictAudit(c, "site-c")
	p, isAudit := e.Payload.(events.AuditRecorded)
	if !isAudit || p.Action != ConflictAction || p.Outcome != "resolved" || len(p.Records) != 1 || p.Records[0] != c.RecordKey {
		t.Fatalf("audit %+v", e.Payload)
	}
	details := map[string]string{}
	for _, d := range p.Details {
		details[d.Name] = d.Value
	}
	if details["winner_peer"] != "site-b" || details["loser_peer"] != "site-a" || details["winner_level"] != "UNCLASSIFIED" ||
		details["loser_event"] != c.Loser.EventID.String() || details["rule"] != RuleLWWHLC || details["record_type"] != RecordEntity {
		t.Fatalf("details %v", details)
	}
	again := c
	again.DetectedAt = t0.Add(2 * time.Hour) // detected again by a rebuild
	if ConflictAudit(again, "site-c").ID != e.ID || ConflictAudit(c, "site-a").ID == e.ID {
		t.Fatal("the id is not derived from the events and the detecting peer alone")
	}
	codec, err := events.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := codec.Encode(e); err != nil {
		t.Fatalf("encoding the audit event: %v", err)
	}

	out := &fakeOutbox{cs: []Conflict{c, c, c}}
	var appended []events.Event
	fail := errors.New("broker down")
	a := &ConflictAuditor{Outbox: out, Peer: "site-c", Batch: 2, Append: func(_ context.Context, es []events.Event) error {
		if fail != nil {
			return fail
		}
		appended = append(appended, es...)
		return nil
	}}
	if n, err := a.Round(context.Background()); !errors.Is(err, fail) || n != 0 || out.audited != 0 {
		t.Fatalf("failed append: %d %v, %d marked", n, err, out.audited)
	}
	fail = nil
	for range 3 {
		if _, err := a.Round(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if out.audited != 3 || len(appended) != 3 || len(out.cs) != 0 {
		t.Fatalf("audited %d, appended %d", out.audited, len(appended))
	}
}
