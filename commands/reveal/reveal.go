package reveal

import (
	"context"
	"errors"
	"fmt"
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

// Records reads a stored sealed value of a record's field; ok is false when
// the record or field does not exist.
type Records interface {
	SealedValue(ctx context.Context, recordKey, field string) (value string, ok bool, err error)
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
	open    Opener
	records Records
	log     Log
	enc     Encoder
	opts    Options
}

// New returns a handler. records may be nil (every item must then carry its
// value).
func New(open Opener, records Records, log Log, enc Encoder, o Options) (*Handler, error) {
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
	return &Handler{open: open, records: records, log: log, enc: enc, opts: o}, nil
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
		sealed := it.Value
		if sealed == "" {
			v, ok, err := h.lookup(ctx, it)
			if err != nil {
				return nil, err
			}
			if !ok {
				out[i].Outcome, audit[i].Outcome = OutcomeNotFound, OutcomeNotFound
				continue
			}
			sealed = v
		}
		audit[i].DataKeyID = pii.DataKeyID(sealed)
		pt, err := h.open.Decrypt(it.Record, it.Field, sealed)
		if err != nil {
			out[i].Outcome, audit[i].Outcome = OutcomeFailed, OutcomeFailed
			continue
		}
		out[i].Outcome, audit[i].Outcome, out[i].Value = OutcomeDecrypted, OutcomeDecrypted, pt
	}
	if err := h.audit(ctx, cmd, audit); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrAuditUnavailable, err)
	}
	if !cmd.Allowed {
		return nil, ErrForbidden
	}
	return out, nil
}

func (h *Handler) lookup(ctx context.Context, it Item) (string, bool, error) {
	if h.records == nil {
		return "", false, nil
	}
	v, ok, err := h.records.SealedValue(ctx, it.Record, it.Field)
	if err != nil {
		return "", false, fmt.Errorf("reading %s of %s: %w", it.Field, it.Record, err)
	}
	return v, ok && v != "", nil
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
