package replay

import (
	"fmt"
	"time"

	"github.com/heimdallhub/heimdall/events"
)

// TimeField names the time a Filter's range applies to.
type TimeField string

// Times a range can select on.
const (
	// TimeRecord is the Kafka record timestamp (CreateTime: set by the
	// producer when it appended the record).
	TimeRecord TimeField = "timestamp"
	// TimeRecordedAt is the event's recorded_at.
	TimeRecordedAt TimeField = "recorded_at"
)

// ParseTimeField reads a TimeField name.
func ParseTimeField(s string) (TimeField, error) {
	switch TimeField(s) {
	case TimeRecord, TimeRecordedAt:
		return TimeField(s), nil
	}
	return "", fmt.Errorf("unknown time field %q (want %s or %s)", s, TimeRecord, TimeRecordedAt)
}

// Filter selects events. Every criterion that is set must hold; within a
// criterion, any listed value matches. The zero Filter selects everything.
type Filter struct {
	Keys    []string // Kafka record keys
	Types   []string // event types
	Sources []string // provenance sources
	Batches []string // batch ids
	// From and To bound the time TimeField names: From <= t < To. A zero
	// bound is open.
	From, To  time.Time
	TimeField TimeField // TimeRecord when empty
}

// Validate reports an empty or inverted time range and an unknown time
// field.
func (f Filter) Validate() error {
	if f.TimeField != "" {
		if _, err := ParseTimeField(string(f.TimeField)); err != nil {
			return err
		}
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return fmt.Errorf("time range is empty: from %s is not before to %s", f.From.Format(time.RFC3339Nano), f.To.Format(time.RFC3339Nano))
	}
	return nil
}

func (f Filter) timeField() TimeField {
	if f.TimeField == "" {
		return TimeRecord
	}
	return f.TimeField
}

// HasTimeRange reports whether From or To is set.
func (f Filter) HasTimeRange() bool { return !f.From.IsZero() || !f.To.IsZero() }

// MatchRecord checks what can be checked before decoding: the record key
// and, for TimeRecord, the record timestamp.
func (f Filter) MatchRecord(key []byte, ts time.Time) bool {
	if len(f.Keys) > 0 && !contains(f.Keys, string(key)) {
		return false
	}
	if f.timeField() == TimeRecord && !inRange(ts, f.From, f.To) {
		return false
	}
	return true
}

// MatchEvent checks the criteria on the decoded event: type, source,
// batch and, for TimeRecordedAt, recorded_at.
func (f Filter) MatchEvent(e events.Event) bool {
	if len(f.Types) > 0 && !contains(f.Types, e.Type) {
		return false
	}
	if len(f.Sources) > 0 && !contains(f.Sources, e.Provenance.Source) {
		return false
	}
	if len(f.Batches) > 0 && !contains(f.Batches, e.BatchID) {
		return false
	}
	if f.timeField() == TimeRecordedAt && !inRange(e.RecordedAt, f.From, f.To) {
		return false
	}
	return true
}

// Match is MatchRecord and MatchEvent.
func (f Filter) Match(key []byte, ts time.Time, e events.Event) bool {
	return f.MatchRecord(key, ts) && f.MatchEvent(e)
}

func inRange(t, from, to time.Time) bool {
	if !from.IsZero() && t.Before(from) {
		return false
	}
	if !to.IsZero() && !t.Before(to) {
		return false
	}
	return true
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// OwnTopicExcluded are the event types never replayed into Heimdall's
// events topic: their effect depends on their position in the log
// (classification.changed is applied in log order) or starts new work
// (enrichment.requested forces provider calls). See the package doc.
var OwnTopicExcluded = []string{events.TypeClassificationChanged, events.TypeEnrichmentRequested}
