package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/heimdallhub/heimdall/events"
)

// Entry is one audited write.
type Entry struct {
	EventID    uuid.UUID
	Action     string // ingest, decrypt, classify, retract, keys.rotate
	Outcome    string
	Actor      events.Actor
	RequestID  string
	RecordedAt time.Time
	Records    []string
	Details    map[string]string
}

// Query selects entries; zero fields do not filter.
type Query struct {
	Actor  string
	Action string
	Record string
	Since  time.Time
	Until  time.Time
	Before uuid.UUID // continue after this entry (newest first)
	Limit  int
}

// Store keeps the trail; Append stores entries and the next offsets of their
// partitions atomically, ignoring entries it already has.
type Store interface {
	Offsets(ctx context.Context, topic string, partitions []int32) (map[int32]int64, error)
	Append(ctx context.Context, topic string, entries []Entry, next map[int32]int64) error
}

// Projector maps audit events to entries (the Kafka consumer adapter's
// handler interface).
type Projector struct {
	store Store
	codec *events.Codec
	log   *slog.Logger
}

// New returns a projector.
func New(store Store, codec *events.Codec, log *slog.Logger) (*Projector, error) {
	if store == nil || codec == nil {
		return nil, errors.New("audit projector: store and codec required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Projector{store: store, codec: codec, log: log}, nil
}

// Offsets implements the consumer handler.
func (p *Projector) Offsets(ctx context.Context, topic string, partitions []int32) (map[int32]int64, error) {
	return p.store.Offsets(ctx, topic, partitions)
}

// Handle implements the consumer handler.
func (p *Projector) Handle(ctx context.Context, records []events.LogRecord) error {
	if len(records) == 0 {
		return nil
	}
	next := map[int32]int64{}
	var entries []Entry
	for _, r := range records {
		next[r.Partition] = max(next[r.Partition], r.Offset+1)
		e, err := p.codec.Decode(r.Value)
		if err != nil {
			p.log.Warn("audit record skipped: undecodable", "partition", r.Partition, "offset", r.Offset)
			continue
		}
		if entry, ok := EntryOf(e); ok {
			entries = append(entries, entry)
		}
	}
	return p.store.Append(ctx, records[0].Topic, entries, next)
}

// EntryOf maps an audit event to its entry; ok is false for other events.
func EntryOf(e events.Event) (Entry, bool) {
	out := Entry{EventID: e.ID, Actor: e.Actor, RequestID: e.RequestID, RecordedAt: e.RecordedAt.UTC(), Details: map[string]string{}}
	switch p := e.Payload.(type) {
	case events.AuditRecorded:
		out.Action, out.Outcome, out.Records = p.Action, p.Outcome, slices.Clone(p.Records)
		for _, d := range p.Details {
			out.Details[d.Name] = d.Value
		}
	case events.DecryptionAudited:
		out.Action = "decrypt"
		counts := map[string]int{}
		for i, it := range p.Items {
			if !slices.Contains(out.Records, it.RecordKey) {
				out.Records = append(out.Records, it.RecordKey)
			}
			counts[it.Outcome]++
			out.Details["item."+strconv.Itoa(i)] = it.RecordKey + " " + it.Field + " " + it.Outcome
		}
		out.Outcome = summarise(counts)
		if p.Purpose != "" {
			out.Details["purpose"] = p.Purpose
		}
	default:
		return Entry{}, false
	}
	if out.Records == nil {
		out.Records = []string{}
	}
	return out, true
}

func summarise(counts map[string]int) string {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	s := ""
	for i, k := range keys {
		if i > 0 {
			s += ","
		}
		s += fmt.Sprintf("%s=%d", k, counts[k])
	}
	return s
}
