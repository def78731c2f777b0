package reveal

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/heimdallhub/heimdall/commands/appendlog"
	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/internal/pii"
)

// Errors of the command.
var (
	// ErrForbidden: the caller lacks the decrypt role (the attempt is
	// audited).
	ErrForbidden = errors.New("the decrypt role is required")
	// ErrAuditUnavailable: the audit event was not acknowledged, so nothing
	// is revealed.
	ErrAuditUnavailable = errors.New("audit log did not acknowledge the decryption")
	// ErrBadRequest: the request is malformed.
	ErrBadRequest = errors.New("invalid decrypt request")
)

// Outcomes of one item.
const (
	OutcomeDecrypted = "decrypted"
	OutcomeDenied    = "denied"
	OutcomeNotFound  = "not_found"
	OutcomeFailed    = "failed"
)

// MaxItems bounds one request.
const MaxItems = 100

// Opener opens sealed values (the PII engine).
type Opener interface {
	Decrypt(recordKey, field, sealed string) (string, error)
}

// Field is what the read model holds of one field of a record, as the
// caller of one command may know it.
type Field struct {
	// Exists says a record with the key exists, whether or not the caller
	// may see it. It only tells the audit trail "denied" from "not found":
	// the caller is answered alike.
	Exists bool
	// Visible says the caller may see the record: it is at or below their
	// clearance. Nothing of a record they may not see is opened.
	Visible bool
	// Values are the field's stored values (when Visible). A value the
	// caller sends must be one of them: a token is bound to no record, so
	// only this ties it to one.
	Values []string
	// Unlisted says the read model does not hold the record's values (a
	// rejected line, whose sealed content the caller sends): a sent value is
	// then tied to the record by its envelope's binding alone.
	Unlisted bool
}

// Records reads fields of records for the caller of one command: the
// caller's clearance is bound into it, and a record above it reads as
// invisible.
type Records interface {
	Field(ctx context.Context, recordKey, field string) (Field, error)
}

// Log appends the audit event; done is called with nil once acknowledged.
type Log = appendlog.Log

// Encoder encodes events.
type Encoder = appendlog.Encoder

// Item names one value.
type Item struct {
	Record string `json:"record"`
	Field  string `json:"field"`
	// Value is the sealed value ("enc:v1:…" or "tok:v1:…"); when empty it is
	// read from the read model.
	Value string `json:"value,omitempty"`
}

// Command is one decrypt request.
type Command struct {
	Actor     events.Actor
	RequestID string
	Allowed   bool   // the caller holds the decrypt role
	Purpose   string // why (recorded, scrubbed)
	Items     []Item
	Headers   map[string]string // added to the audit record (traceparent)
	// Records is the read model as this caller may see it; nil sees no
	// record.
	Records Records
}

// Revealed is the result of one item.
type Revealed struct {
	Record  string `json:"record"`
	Field   string `json:"field"`
	Outcome string `json:"outcome"`
	Value   string `json:"value,omitempty"`
}

// Options configure a Handler.
type Options struct {
	PeerID     string
	AuditTopic string
	// Scrub removes personal data from the free-text purpose.
	Scrub func(string) string
	Clock *events.Clock
	// Timeout bounds the wait for the audit acknowledgement.
	Timeout time.Duration
}

// Handler executes decrypt commands.
type Handler struct {
	open Opener
	log  Log
	enc  Encoder
	opts Options
}

// New returns a handler.
func New(open Opener, log Log, enc Encoder, o Options) (*Handler, error) {
	if open == nil || log == nil || enc == nil || o.PeerID == "" || o.AuditTopic == "" {
		return nil, errors.New("reveal: opener, log, encoder, peer id and audit topic are required")
	}
	if o.Clock == nil {
		o.Clock = events.NewClock(time.Now)
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Scrub == nil {
		o.Scrub = func(string) string { return "" }
	}
	return &Handler{open: open, log: log, enc: enc, opts: o}, nil
}

// Handle audits the request, then reveals what it may.
func (h *Handler) Handle(ctx context.Context, cmd Command) ([]Revealed, error) {
	if cmd.Actor.Subject == "" || cmd.RequestID == "" {
		return nil, fmt.Errorf("%w: actor and request id are required", ErrBadRequest)
	}
	if len(cmd.Items) == 0 || len(cmd.Items) > MaxItems {
		return nil, fmt.Errorf("%w: name 1 to %d items", ErrBadRequest, MaxItems)
	}
	for i, it := range cmd.Items {
		if it.Record == "" || it.Field == "" || len(it.Record) > 512 || len(it.Field) > 256 {
			return nil, fmt.Errorf("%w: item %d needs a record and a field", ErrBadRequest, i)
		}
	}
	out := make([]Revealed, len(cmd.Items))
	audit := make([]events.DecryptionItem, len(cmd.Items))
	for i, it := range cmd.Items {
		out[i] = Revealed{Record: it.Record, Field: it.Field}
		audit[i] = events.DecryptionItem{RecordKey: it.Record, Field: it.Field}
		if !cmd.Allowed {
			out[i].Outcome, audit[i].Outcome = OutcomeDenied, OutcomeDenied
			audit[i].DataKeyID = pii.DataKeyID(it.Value)
			continue
		}
		r, err := h.reveal(ctx, cmd.Records, it)
		if err != nil {
			return nil, err
		}
		out[i].Outcome, out[i].Value, audit[i].Outcome, audit[i].DataKeyID = r.outcome, r.value, r.audited, r.keyID
	}
	if err := h.audit(ctx, cmd, audit); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrAuditUnavailable, err)
	}
	if !cmd.Allowed {
		return nil, ErrForbidden
	}
	return out, nil
}

// opened is the result of one item: the answer's outcome and value, the
// audited outcome and data key id.
type opened struct{ outcome, value, audited, keyID string }

// reveal opens one item for a caller holding the decrypt permission. An
// item of a record the caller may not see is answered "not found", exactly
// as one of a record that does not exist (and with the same work: nothing
// is opened), and audited "denied".
func (h *Handler) reveal(ctx context.Context, records Records, it Item) (opened, error) {
	var f Field
	if records != nil {
		var err error
		if f, err = records.Field(ctx, it.Record, it.Field); err != nil {
			return opened{}, fmt.Errorf("reading %s of %s: %w", it.Field, it.Record, err)
		}
	}
	if !f.Visible {
		r := opened{outcome: OutcomeNotFound, audited: OutcomeNotFound, keyID: pii.DataKeyID(it.Value)}
		if f.Exists {
			r.audited = OutcomeDenied
		}
		return r, nil
	}
	sealed := it.Value
	switch {
	case sealed == "" && (f.Unlisted || len(f.Values) != 1 || f.Values[0] == ""):
		return opened{outcome: OutcomeNotFound, audited: OutcomeNotFound}, nil
	case sealed == "":
		sealed = f.Values[0]
	case !f.Unlisted && !slices.Contains(f.Values, sealed):
		// Not a value of this record's field: a token (bound to no record)
		// or a ciphertext moved here from another record.
		return opened{outcome: OutcomeFailed, audited: OutcomeFailed, keyID: pii.DataKeyID(sealed)}, nil
	}
	failed := opened{outcome: OutcomeFailed, audited: OutcomeFailed, keyID: pii.DataKeyID(sealed)}
	pt, err := h.open.Decrypt(it.Record, it.Field, sealed)
	if err != nil {
		return failed, nil
	}
	return opened{outcome: OutcomeDecrypted, value: pt, audited: OutcomeDecrypted, keyID: failed.keyID}, nil
}

// audit appends the audit event and waits for its acknowledgement.
func (h *Handler) audit(ctx context.Context, cmd Command, items []events.DecryptionItem) error {
	hlc := h.opts.Clock.Now()
	purpose := h.opts.Scrub(cmd.Purpose)
	if len(purpose) > 512 {
		purpose = purpose[:512]
	}
	ev := events.Event{
		ID:             events.DeterministicID(hlc.Time(), cmd.RequestID, "decrypt", strconv.FormatInt(int64(hlc), 10)),
		Key:            cmd.Actor.Subject, // one actor's audit trail stays in order
		OriginPeer:     h.opts.PeerID,
		Vector:         events.VersionVector{h.opts.PeerID: int64(hlc)},
		HLC:            hlc,
		Actor:          cmd.Actor,
		RequestID:      cmd.RequestID,
		BatchID:        cmd.RequestID,
		RecordedAt:     hlc.Time(),
		Provenance:     events.Provenance{Source: "api", Format: "decrypt"},
		Classification: "UNCLASSIFIED",
		PolicyVersion:  "",
		Payload:        events.DecryptionAudited{Purpose: strings.ToValidUTF8(purpose, ""), Items: items},
	}
	return appendlog.All(ctx, h.log, h.enc, h.opts.Timeout, cmd.Headers, appendlog.Record{Topic: h.opts.AuditTopic, Event: ev})
}
