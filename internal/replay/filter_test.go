package replay

import (
	"strings"
	"testing"
	"time"

	"github.com/heimdallhub/heimdall/events"
)

func filterEvent() events.Event {
	return events.Event{
		Type:       events.TypeEntityObserved,
		Key:        "ipv4-addr--1",
		BatchID:    "batch-1",
		RecordedAt: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
		Provenance: events.Provenance{Source: "sensor-1"},
		Payload:    events.EntityObserved{Kind: "ipv4-addr", Value: "192.0.2.1"},
	}
}

// TestFilterMatch: every criterion alone and combined; within a criterion
// any value matches; time ranges are half-open on the field they name.
func TestFilterMatch(t *testing.T) {
	ts := time.Date(2026, 3, 1, 13, 0, 0, 0, time.UTC) // the record timestamp, an hour after recorded_at
	at := func(h, m int) time.Time { return time.Date(2026, 3, 1, h, m, 0, 0, time.UTC) }
	for _, tc := range []struct {
		name string
		f    Filter
		key  string
		want bool
	}{
		{"zero filter selects everything", Filter{}, "ipv4-addr--1", true},
		{"key listed", Filter{Keys: []string{"x", "ipv4-addr--1"}}, "ipv4-addr--1", true},
		{"key not listed", Filter{Keys: []string{"x"}}, "ipv4-addr--1", false},
		{"key is the record key, not the payload value", Filter{Keys: []string{"192.0.2.1"}}, "ipv4-addr--1", false},
		{"empty record key never matches a listed key", Filter{Keys: []string{"ipv4-addr--1"}}, "", false},
		{"type listed", Filter{Types: []string{events.TypeRelationObserved, events.TypeEntityObserved}}, "ipv4-addr--1", true},
		{"type not listed", Filter{Types: []string{events.TypeRelationObserved}}, "ipv4-addr--1", false},
		{"source listed", Filter{Sources: []string{"sensor-1"}}, "ipv4-addr--1", true},
		{"source not listed", Filter{Sources: []string{"sensor-2"}}, "ipv4-addr--1", false},
		{"source is case-sensitive", Filter{Sources: []string{"Sensor-1"}}, "ipv4-addr--1", false},
		{"batch listed", Filter{Batches: []string{"batch-1"}}, "ipv4-addr--1", true},
		{"batch not listed", Filter{Batches: []string{"batch-2"}}, "ipv4-addr--1", false},
		{"all criteria hold", Filter{Keys: []string{"ipv4-addr--1"}, Types: []string{events.TypeEntityObserved}, Sources: []string{"sensor-1"}, Batches: []string{"batch-1"}}, "ipv4-addr--1", true},
		{"one criterion fails", Filter{Keys: []string{"ipv4-addr--1"}, Types: []string{events.TypeEntityObserved}, Sources: []string{"sensor-1"}, Batches: []string{"batch-9"}}, "ipv4-addr--1", false},

		{"timestamp: from inclusive", Filter{From: ts}, "k", true},
		{"timestamp: to exclusive", Filter{To: ts}, "k", false},
		{"timestamp: just after to", Filter{To: ts.Add(time.Millisecond)}, "k", true},
		{"timestamp: from after", Filter{From: ts.Add(time.Millisecond)}, "k", false},
		{"timestamp: inside", Filter{From: at(12, 30), To: at(13, 30)}, "k", true},
		{"timestamp is the default field: recorded_at ignored", Filter{From: at(11, 0), To: at(12, 30)}, "k", false},
		{"recorded_at: inside", Filter{From: at(11, 0), To: at(12, 30), TimeField: TimeRecordedAt}, "k", true},
		{"recorded_at: from inclusive", Filter{From: at(12, 0), TimeField: TimeRecordedAt}, "k", true},
		{"recorded_at: to exclusive", Filter{To: at(12, 0), TimeField: TimeRecordedAt}, "k", false},
		{"recorded_at: record timestamp ignored", Filter{From: at(12, 30), To: at(13, 30), TimeField: TimeRecordedAt}, "k", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.f.Match([]byte(tc.key), ts, filterEvent()); got != tc.want {
				t.Fatalf("Match = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestFilterMatchRecordNeedsNoEvent: key and record-timestamp criteria are
// decided before decoding; event criteria are not.
func TestFilterMatchRecordNeedsNoEvent(t *testing.T) {
	ts := time.Date(2026, 3, 1, 13, 0, 0, 0, time.UTC)
	if (Filter{Keys: []string{"a"}}).MatchRecord([]byte("b"), ts) {
		t.Error("key mismatch passed MatchRecord")
	}
	if (Filter{To: ts}).MatchRecord([]byte("a"), ts) {
		t.Error("timestamp at To passed MatchRecord")
	}
	if !(Filter{Types: []string{"x"}, Sources: []string{"y"}, Batches: []string{"z"}, To: ts, TimeField: TimeRecordedAt}).MatchRecord([]byte("a"), ts) {
		t.Error("event criteria decided before decoding")
	}
}

func TestFilterValidate(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		f       Filter
		wantErr string
	}{
		{Filter{}, ""},
		{Filter{From: at, To: at.Add(time.Nanosecond)}, ""},
		{Filter{From: at, To: at}, "time range is empty"},
		{Filter{From: at.Add(time.Hour), To: at}, "time range is empty"},
		{Filter{TimeField: "ingested_at"}, "unknown time field"},
		{Filter{TimeField: TimeRecordedAt}, ""},
	} {
		err := tc.f.Validate()
		if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%+v: Validate = %v, want %q", tc.f, err, tc.wantErr)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		o       Options
		wantErr string
	}{
		{"topic only", Options{Topic: "t"}, ""},
		{"no topic", Options{}, "no source topic"},
		{"one partition", Options{Topic: "t", Partitions: []int32{2}}, ""},
		{"negative partition", Options{Topic: "t", Partitions: []int32{-1}}, "negative"},
		{"offsets with a partition", Options{Topic: "t", Partitions: []int32{0}, FromOffset: 3, ToOffset: 9}, ""},
		{"from offset alone", Options{Topic: "t", Partitions: []int32{0}, FromOffset: 3}, ""},
		{"offsets without a partition", Options{Topic: "t", FromOffset: 3}, "needs one partition"},
		{"offsets with two partitions", Options{Topic: "t", Partitions: []int32{0, 1}, ToOffset: 3}, "needs one partition"},
		{"empty offset range", Options{Topic: "t", Partitions: []int32{0}, FromOffset: 3, ToOffset: 3}, "offset range is empty"},
		{"negative offset", Options{Topic: "t", Partitions: []int32{0}, FromOffset: -2}, "never negative"},
		{"negative rate", Options{Topic: "t", Rate: -1}, "rate is negative"},
		{"bad filter", Options{Topic: "t", Filter: Filter{TimeField: "x"}}, "unknown time field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.o.Validate()
			if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("Validate = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestParseTimeFieldAndStart(t *testing.T) {
	for in, want := range map[string]TimeField{"timestamp": TimeRecord, "recorded_at": TimeRecordedAt} {
		if got, err := ParseTimeField(in); err != nil || got != want {
			t.Errorf("ParseTimeField(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseTimeField("now"); err == nil {
		t.Error("ParseTimeField accepted an unknown field")
	}
	if s, err := ParseStart("beginning"); err != nil || !s.Beginning {
		t.Errorf("beginning: %+v %v", s, err)
	}
	if s, err := ParseStart("end"); err != nil || s.Beginning || !s.At.IsZero() {
		t.Errorf("end: %+v %v", s, err)
	}
	if s, err := ParseStart("2026-03-01T12:00:00+01:00"); err != nil || !s.At.Equal(time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC)) {
		t.Errorf("time: %+v %v", s, err)
	}
	if _, err := ParseStart("yesterday"); err == nil {
		t.Error("ParseStart accepted yesterday")
	}
}

func TestBurst(t *testing.T) {
	for r, want := range map[float64]int{0.5: 1, 1: 1, 10: 1, 25: 2, 1000: 100} {
		if got := Burst(r); got != want {
			t.Errorf("Burst(%v) = %d, want %d", r, got, want)
		}
	}
}

// TestOwnTopicExcluded: the types whose effect depends on their log
// position or starts work are the ones never written back.
func TestOwnTopicExcluded(t *testing.T) {
	want := map[string]bool{events.TypeClassificationChanged: true, events.TypeEnrichmentRequested: true}
	if len(OwnTopicExcluded) != len(want) {
		t.Fatalf("OwnTopicExcluded = %v", OwnTopicExcluded)
	}
	for _, typ := range OwnTopicExcluded {
		if !want[typ] {
			t.Errorf("unexpected excluded type %s", typ)
		}
	}
}
