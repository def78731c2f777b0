package audit

import (
	"context"
	"testing"
	"time"

	"github.com/heimdallhub/heimdall/events"
)

type memStore struct {
	entries []Entry
	next    map[int32]int64
}

func (m *memStore) Offsets(context.Context, string, []int32) (map[int32]int64, error) {
	return m.next, nil
}

func (m *memStore) Append(_ context.Context, _ string, es []Entry, next map[int32]int64) error {
	m.entries = append(m.entries, es...)
	if m.next == nil {
		m.next = map[int32]int64{}
	}
	for p, n := range next {
		m.next[p] = max(m.next[p], n)
	}
	return nil
}

func TestProjectorMapsAuditEvents(t *testing.T) {
	codec, err := events.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC)
	base := events.Event{OriginPeer: "p", Vector: events.VersionVector{"p": 1}, HLC: 1, Actor: events.Actor{Subject: "alice", Issuer: "https://idp"},
		RequestID: "req-1", BatchID: "req-1", RecordedAt: at, Classification: "UNCLASSIFIED"}
	ingest := base
	ingest.ID, ingest.Key = events.DeterministicID(at, "1"), "alice"
	ingest.Payload = events.AuditRecorded{Action: "ingest", Outcome: "done", Records: []string{"batch-1"},
		Details: []events.AuditDetail{{Name: "accepted", Value: "3"}}}
	dec := base
	dec.ID, dec.Key = events.DeterministicID(at, "2"), "alice"
	dec.Payload = events.DecryptionAudited{Purpose: "case 7", Items: []events.DecryptionItem{
		{RecordKey: "email-addr--1", Field: "value", DataKeyID: "dk-1", Outcome: "decrypted"},
		{RecordKey: "email-addr--1", Field: "attributes.x", Outcome: "failed"},
	}}
	other := base
	other.ID, other.Key = events.DeterministicID(at, "3"), "k"
	other.Payload = events.IngestRejected{Code: "x", Reason: "y"}
	var recs []events.LogRecord
	for i, e := range []events.Event{ingest, dec, other} {
		b, err := codec.Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, events.LogRecord{Topic: "audit", Partition: 0, Offset: int64(i), Value: b})
	}
	recs = append(recs, events.LogRecord{Topic: "audit", Partition: 1, Offset: 9, Value: []byte("garbage")})
	st := &memStore{}
	p, err := New(st, codec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Handle(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	if len(st.entries) != 2 {
		t.Fatalf("%d entries, want 2 (other events and garbage are skipped)", len(st.entries))
	}
	in, d := st.entries[0], st.entries[1]
	if in.Action != "ingest" || in.Details["accepted"] != "3" || in.Actor.Subject != "alice" || in.RequestID != "req-1" || !in.RecordedAt.Equal(at) {
		t.Fatalf("ingest entry %+v", in)
	}
	if d.Action != "decrypt" || d.Outcome != "decrypted=1,failed=1" || len(d.Records) != 1 || d.Details["purpose"] != "case 7" {
		t.Fatalf("decrypt entry %+v", d)
	}
	if st.next[0] != 3 || st.next[1] != 10 {
		t.Fatalf("offsets %v", st.next)
	}
}
