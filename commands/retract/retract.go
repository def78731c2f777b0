package retract

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/heimdallhub/heimdall/commands/appendlog"
	"github.com/heimdallhub/heimdall/events"
)

// Errors of the command.
var (
	ErrBadRequest     = errors.New("invalid retraction request")
	ErrLogUnavailable = errors.New("event log did not acknowledge the retraction")
	ErrNoClearance    = errors.New("no clearance to retract with")
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
	// Clearance is the actor's clearance level: the retraction reaches only
	// records at or below it (the projections apply the bound, see
	// graph.Retraction). Required: an actor without a clearance may see
	// nothing, so there is nothing it could retract.
	Clearance string
	Headers   map[string]string
}

// Options configure a Handler.
type Options = appendlog.Options

// Handler executes retractions.
type Handler struct {
	w *appendlog.Writer
}

var validID = regexp.MustCompile(`^[A-Za-z0-9._:@/ -]{1,256}$`)

// New returns a handler.
func New(log Log, enc Encoder, o Options) (*Handler, error) {
	w, err := appendlog.NewWriter(log, enc, o)
	if err != nil {
		return nil, err
	}
	return &Handler{w: w}, nil
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
	if cmd.Clearance == "" {
		return "", fmt.Errorf("%w: a retraction reaches what its actor may see, and this actor has no clearance", ErrNoClearance)
	}
	reason := h.w.Reason(cmd.Reason)
	base := h.w.Envelope(cmd.Actor, cmd.RequestID, "retract", "UNCLASSIFIED")
	ret := base
	ret.ID = events.DeterministicID(base.RecordedAt, cmd.RequestID, cmd.Scope, cmd.ID)
	ret.Key = cmd.Scope + ":" + cmd.ID
	ret.Payload = events.RetractionRequested{Scope: cmd.Scope, ID: cmd.ID, Reason: reason, Clearance: cmd.Clearance}
	rec := base
	rec.ID = events.DeterministicID(base.RecordedAt, cmd.RequestID, cmd.Scope, cmd.ID, "audit")
	rec.Key = cmd.Actor.Subject
	rec.Payload = events.AuditRecorded{Action: "retract", Outcome: "done", Records: []string{ret.Key},
		Details: []events.AuditDetail{{Name: "scope", Value: cmd.Scope}, {Name: "id", Value: cmd.ID}, {Name: "reason", Value: reason},
			{Name: "clearance", Value: cmd.Clearance}}}

	if err := h.w.Write(ctx, cmd.Headers, ret, rec); err != nil {
		return "", fmt.Errorf("%w: %v", ErrLogUnavailable, err)
	}
	return ret.ID.String(), nil
}
