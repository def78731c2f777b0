package classify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/heimdallhub/heimdall/commands/appendlog"
	"github.com/heimdallhub/heimdall/events"
)

// Errors of the command.
var (
	ErrBadRequest     = errors.New("invalid classification request")
	ErrLogUnavailable = errors.New("event log did not acknowledge the classification")
	// ErrReadModelUnavailable: the record's current reclassification could
	// not be read, so the change could not be ordered after it; nothing was
	// appended (retry).
	ErrReadModelUnavailable = errors.New("the current classification of the record could not be read")
)

// Current reads what the read model holds about a record's classification
// (internal/graphstore implements it).
type Current interface {
	// CurrentReclassification returns the HLC and version vector of the
	// winning classification.changed event of the record (recordType
	// entity or relation), whether the record exists yet or not (a zero
	// HLC when it has none), and the record's effective level ("" when the
	// record does not exist here, or is known only as a relation's
	// endpoint).
	CurrentReclassification(ctx context.Context, recordType, key string) (hlc events.HLC, vector events.VersionVector, level string, err error)
}

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
	appendlog.Options
	Levels  []string // accepted levels, lowest first
	Current Current  // the read model's current reclassifications (required)
}

// Handler executes classification commands.
type Handler struct {
	w       *appendlog.Writer
	levels  []string
	current Current
	peer    string
}

// New returns a handler.
func New(log Log, enc Encoder, o Options) (*Handler, error) {
	w, err := appendlog.NewWriter(log, enc, o.Options)
	if err != nil || len(o.Levels) == 0 || o.Current == nil {
		return nil, errors.Join(err, errors.New("classify: levels and a reader of current reclassifications are required"))
	}
	return &Handler{w: w, levels: o.Levels, current: o.Current, peer: o.PeerID}, nil
}

// eventLevel is the classification of a change's events: the record's
// current level, for the change names the record and is for whoever may
// see it (a peer's agreement and the audit trail's readers). A record this
// peer does not hold, or holds at a level it does not know, gets the
// highest level: its key crosses to nobody who could not see it.
func (h *Handler) eventLevel(current string) string {
	if slices.Contains(h.levels, current) {
		return current
	}
	return h.levels[len(h.levels)-1]
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
	if !slices.Contains(h.levels, cmd.Level) {
		return "", fmt.Errorf("%w: level must be one of %s", ErrBadRequest, strings.Join(h.levels, ", "))
	}
	// Causality: the change supersedes the record's current
	// reclassification, so it gets a greater HLC and a version vector
	// that dominates the current one. Last-writer-wins by HLC then agrees
	// with the vectors, and only changes made without seeing each other
	// (at different peers) are concurrent: conflicts.
	curHLC, curVector, curLevel, err := h.current.CurrentReclassification(ctx, cmd.RecordType, cmd.Record)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrReadModelUnavailable, err)
	}
	reason := h.w.Reason(cmd.Reason)
	base := h.w.EnvelopeAfter(curHLC, cmd.Actor, cmd.RequestID, "classify", h.eventLevel(curLevel))
	change := base
	change.ID = events.DeterministicID(base.RecordedAt, cmd.RequestID, cmd.Record, "classify")
	change.Key = cmd.Record
	if curHLC != 0 {
		change.Vector = curVector.With(h.peer, int64(base.HLC))
	}
	change.Payload = events.ClassificationChanged{RecordType: cmd.RecordType, Level: cmd.Level, Reason: reason}
	rec := base
	rec.ID = events.DeterministicID(base.RecordedAt, cmd.RequestID, cmd.Record, "audit")
	rec.Key = cmd.Actor.Subject
	rec.Payload = events.AuditRecorded{Action: "classify", Outcome: "done", Records: []string{cmd.Record},
		Details: []events.AuditDetail{{Name: "level", Value: cmd.Level}, {Name: "record_type", Value: cmd.RecordType}, {Name: "reason", Value: reason}}}

	if err := h.w.Write(ctx, cmd.Headers, change, rec); err != nil {
		return "", fmt.Errorf("%w: %v", ErrLogUnavailable, err)
	}
	return change.ID.String(), nil
}
