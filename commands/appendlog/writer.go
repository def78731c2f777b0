package appendlog

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/heimdallhub/heimdall/events"
)

// Options configure a Writer.
type Options struct {
	PeerID      string
	EventsTopic string
	AuditTopic  string
	// Scrub removes personal data from free text (reasons); nil drops it.
	Scrub   func(string) string
	Clock   *events.Clock
	Timeout time.Duration // for the acknowledgements (default 30 s)
}

// Writer is what a small command needs to write: envelopes, scrubbed
// reasons, and appending its events with their audit record.
type Writer struct {
	log  Log
	enc  Encoder
	opts Options
}

// ErrConfig reports a Writer without its required parts.
var ErrConfig = errors.New("command writer: log, encoder, peer id and topics are required")

// NewWriter returns a Writer.
func NewWriter(log Log, enc Encoder, o Options) (*Writer, error) {
	if log == nil || enc == nil || o.PeerID == "" || o.EventsTopic == "" || o.AuditTopic == "" {
		return nil, ErrConfig
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
	return &Writer{log: log, enc: enc, opts: o}, nil
}

// Reason is free text made safe to store: scrubbed, valid UTF-8, at most
// 512 bytes.
func (w *Writer) Reason(s string) string {
	r := strings.ToValidUTF8(w.opts.Scrub(s), "")
	if len(r) > 512 {
		r = strings.ToValidUTF8(r[:512], "")
	}
	return r
}

// Envelope returns an event of actor in request, stamped now, from the
// API's format (for example "classify"); the caller sets ID, Key and
// Payload.
func (w *Writer) Envelope(actor events.Actor, requestID, format, classification string) events.Event {
	return w.EnvelopeAfter(0, actor, requestID, format, classification)
}

// EnvelopeAfter is Envelope stamped with an HLC greater than after (and
// than every HLC the writer issued before): for an event that supersedes
// one it has read.
func (w *Writer) EnvelopeAfter(after events.HLC, actor events.Actor, requestID, format, classification string) events.Event {
	hlc := w.opts.Clock.NowAfter(after)
	return events.Event{
		OriginPeer: w.opts.PeerID, Vector: events.VersionVector{w.opts.PeerID: int64(hlc)}, HLC: hlc,
		Actor: actor, RequestID: requestID, BatchID: requestID, RecordedAt: hlc.Time(),
		Provenance: events.Provenance{Source: "api", Format: format}, Classification: classification,
	}
}

// Write appends change to the events topic and audit to the audit topic
// and waits for both acknowledgements.
func (w *Writer) Write(ctx context.Context, headers map[string]string, change, audit events.Event) error {
	return All(ctx, w.log, w.enc, w.opts.Timeout, headers,
		Record{Topic: w.opts.EventsTopic, Event: change}, Record{Topic: w.opts.AuditTopic, Event: audit})
}

// EventsTopic is the events topic the writer appends changes to.
func (w *Writer) EventsTopic() string { return w.opts.EventsTopic }

// AuditTopic is the audit topic.
func (w *Writer) AuditTopic() string { return w.opts.AuditTopic }

// Append appends records and waits for every acknowledgement.
func (w *Writer) Append(ctx context.Context, headers map[string]string, recs ...Record) error {
	return All(ctx, w.log, w.enc, w.opts.Timeout, headers, recs...)
}
