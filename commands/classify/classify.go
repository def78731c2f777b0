package classify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/heimdallhub/heimdall/commands/internal/appendlog"
	"github.com/heimdallhub/heimdall/events"
)

// Errors of the command.
var (
	ErrBadRequest     = errors.New("invalid classification request")
	ErrLogUnavailable = errors.New("event log did not acknowledge the classification")
)

// Log appends records; done is called with nil once acknowledged.
type Log = appendlog.Log

// Encoder encodes events.
type Encoder = appendlog.Encoder

// Command sets the level of one record.
type Command struct {
	Actor      events.Actor
	RequestID  string
	Record     string // entity or relationship key
	RecordType string // entity or relation
	Level      string
	Reason     string
	Headers    map[string]string
}

// Options configure a Handler.
type Options struct {
	PeerID      string
	EventsTopic string
	AuditTopic  string
	Levels      []string            // accepted levels, lowest first
	Scrub       func(string) string // removes personal data from the reason
	Clock       *events.Clock
	Timeout     time.Duration
}

// Handler executes classification commands.
type Handler struct {
	log  Log
	enc  Encoder
	opts Options
}

// New returns a handler.
func New(log Log, enc Encoder, o Options) (*Handler, error) {
	if log == nil || enc == nil || o.PeerID == "" || o.EventsTopic == "" || o.AuditTopic == "" || len(o.Levels) == 0 {
		return nil, errors.New("classify: log, encoder, peer id, topics and levels are required")
	}
	if o.Clock == nil {
		o.Clock = events.NewClock(time.Now)
	}
	if o.Scrub == nil {
		o.Scrub = func(string) string { return "" }
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	return &Handler{log: log, enc: enc, opts: o}, nil
}

// Handle appends the change and its audit record; it returns the change's
// event id once both are acknowledged.
func (h *Handler) Handle(ctx context.Context, cmd Command) (string, error) {
	if cmd.Actor.Subject == "" || cmd.RequestID == "" {
		return "", fmt.Errorf("%w: a write needs an actor and a request id", ErrBadRequest)
	}
	if cmd.RecordType != "entity" && cmd.RecordType != "relation" {
		return "", fmt.Errorf("%w: record type must be entity or relation", ErrBadRequest)
	}
	if !slices.Contains(h.opts.Levels, cmd.Level) {
		return "", fmt.Errorf("%w: level must be one of %s", ErrBadRequest, strings.Join(h.opts.Levels, ", "))
	}
	reason := strings.ToValidUTF8(h.opts.Scrub(cmd.Reason), "")
	if len(reason) > 512 {
		reason = reason[:512]
	}
	hlc := h.opts.Clock.Now()
	base := events.Event{
		OriginPeer: h.opts.PeerID, Vector: events.VersionVector{h.opts.PeerID: int64(hlc)}, HLC: hlc,
		Actor: cmd.Actor, RequestID: cmd.RequestID, BatchID: cmd.RequestID, RecordedAt: hlc.Time(),
		Provenance: events.Provenance{Source: "api", Format: "classify"}, Classification: h.opts.Levels[0],
	}
	change := base
	change.ID = events.DeterministicID(hlc.Time(), cmd.RequestID, cmd.Record, "classify")
	change.Key = cmd.Record
	change.Payload = events.ClassificationChanged{RecordType: cmd.RecordType, Level: cmd.Level, Reason: reason}
	rec := base
	rec.ID = events.DeterministicID(hlc.Time(), cmd.RequestID, cmd.Record, "audit")
	rec.Key = cmd.Actor.Subject
	rec.Payload = events.AuditRecorded{Action: "classify", Outcome: "done", Records: []string{cmd.Record},
		Details: []events.AuditDetail{{Name: "level", Value: cmd.Level}, {Name: "record_type", Value: cmd.RecordType}, {Name: "reason", Value: reason}}}

	if err := appendlog.All(ctx, h.log, h.enc, h.opts.Timeout, cmd.Headers,
		appendlog.Record{Topic: h.opts.EventsTopic, Event: change}, appendlog.Record{Topic: h.opts.AuditTopic, Event: rec}); err != nil {
		return "", fmt.Errorf("%w: %v", ErrLogUnavailable, err)
	}
	return change.ID.String(), nil
}
