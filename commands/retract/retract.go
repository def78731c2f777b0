package retract

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/heimdallhub/heimdall/commands/internal/appendlog"
	"github.com/heimdallhub/heimdall/events"
)

// Errors of the command.
var (
	ErrBadRequest     = errors.New("invalid retraction request")
	ErrLogUnavailable = errors.New("event log did not acknowledge the retraction")
)

// Log appends records; done is called with nil once acknowledged.
type Log = appendlog.Log

// Encoder encodes events.
type Encoder = appendlog.Encoder

// Command retracts one batch or source.
type Command struct {
	Actor     events.Actor
	RequestID string
	Scope     string // batch or source
	ID        string
	Reason    string
	Headers   map[string]string
}

// Options configure a Handler.
type Options struct {
	PeerID      string
	EventsTopic string
	AuditTopic  string
	Scrub       func(string) string
	Clock       *events.Clock
	Timeout     time.Duration
}

// Handler executes retractions.
type Handler struct {
	log  Log
	enc  Encoder
	opts Options
}

var validID = regexp.MustCompile(`^[A-Za-z0-9._:@/ -]{1,256}$`)

// New returns a handler.
func New(log Log, enc Encoder, o Options) (*Handler, error) {
	if log == nil || enc == nil || o.PeerID == "" || o.EventsTopic == "" || o.AuditTopic == "" {
		return nil, errors.New("retract: log, encoder, peer id and topics are required")
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

// Handle appends the retraction and its audit record and returns the
// retraction's event id.
func (h *Handler) Handle(ctx context.Context, cmd Command) (string, error) {
	if cmd.Actor.Subject == "" || cmd.RequestID == "" {
		return "", fmt.Errorf("%w: a write needs an actor and a request id", ErrBadRequest)
	}
	if cmd.Scope != "batch" && cmd.Scope != "source" {
		return "", fmt.Errorf("%w: scope must be batch or source", ErrBadRequest)
	}
	if !validID.MatchString(cmd.ID) {
		return "", fmt.Errorf("%w: id must be 1 to 256 plain characters", ErrBadRequest)
	}
	reason := strings.ToValidUTF8(h.opts.Scrub(cmd.Reason), "")
	if len(reason) > 512 {
		reason = reason[:512]
	}
	hlc := h.opts.Clock.Now()
	base := events.Event{
		OriginPeer: h.opts.PeerID, Vector: events.VersionVector{h.opts.PeerID: int64(hlc)}, HLC: hlc,
		Actor: cmd.Actor, RequestID: cmd.RequestID, BatchID: cmd.RequestID, RecordedAt: hlc.Time(),
		Provenance: events.Provenance{Source: "api", Format: "retract"}, Classification: "UNCLASSIFIED",
	}
	ret := base
	ret.ID = events.DeterministicID(hlc.Time(), cmd.RequestID, cmd.Scope, cmd.ID)
	ret.Key = cmd.Scope + ":" + cmd.ID
	ret.Payload = events.RetractionRequested{Scope: cmd.Scope, ID: cmd.ID, Reason: reason}
	rec := base
	rec.ID = events.DeterministicID(hlc.Time(), cmd.RequestID, cmd.Scope, cmd.ID, "audit")
	rec.Key = cmd.Actor.Subject
	rec.Payload = events.AuditRecorded{Action: "retract", Outcome: "done", Records: []string{ret.Key},
		Details: []events.AuditDetail{{Name: "scope", Value: cmd.Scope}, {Name: "id", Value: cmd.ID}, {Name: "reason", Value: reason}}}

	if err := appendlog.All(ctx, h.log, h.enc, h.opts.Timeout, cmd.Headers,
		appendlog.Record{Topic: h.opts.EventsTopic, Event: ret}, appendlog.Record{Topic: h.opts.AuditTopic, Event: rec}); err != nil {
		return "", fmt.Errorf("%w: %v", ErrLogUnavailable, err)
	}
	return ret.ID.String(), nil
}
