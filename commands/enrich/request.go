package enrich

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/heimdallhub/heimdall/commands/appendlog"
	"github.com/heimdallhub/heimdall/events"
)

// Errors of the re-enrichment command.
var (
	ErrBadRequest     = errors.New("invalid enrichment request")
	ErrLogUnavailable = errors.New("event log did not acknowledge the enrichment request")
)

// MaxRequestRecords bounds the records of one request.
const MaxRequestRecords = 1000

// Request asks for records to be enriched again now, ignoring TTLs.
type Request struct {
	Actor     events.Actor
	RequestID string
	// Records are the records to enrich, as the graph holds them (the
	// caller resolved the keys it was given and checked the actor may see
	// them); their values are sent to providers only if they are public.
	Records   []Record
	Providers []string // empty: every provider for each record's kind
	Reason    string
	Headers   map[string]string
}

// Record is one record of a Request.
type Record struct {
	Subject        events.Endpoint
	Classification string
}

// Requester appends enrichment.requested events and their audit record.
type Requester struct{ w *appendlog.Writer }

// NewRequester returns the command handler.
func NewRequester(log Log, enc Encoder, o appendlog.Options) (*Requester, error) {
	w, err := appendlog.NewWriter(log, enc, o)
	if err != nil {
		return nil, err
	}
	return &Requester{w: w}, nil
}

var providerName = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

// Handle appends one enrichment.requested event per record and an audit
// record, and returns the event ids once the log acknowledged them.
func (r *Requester) Handle(ctx context.Context, req Request) ([]string, error) {
	if req.Actor.Subject == "" || req.RequestID == "" {
		return nil, fmt.Errorf("%w: a write needs an actor and a request id", ErrBadRequest)
	}
	if len(req.Records) == 0 || len(req.Records) > MaxRequestRecords {
		return nil, fmt.Errorf("%w: name 1 to %d records", ErrBadRequest, MaxRequestRecords)
	}
	for _, p := range req.Providers {
		if !providerName.MatchString(p) {
			return nil, fmt.Errorf("%w: provider names are lower-case letters, digits, '.', '_' and '-'", ErrBadRequest)
		}
	}
	providers := req.Providers
	if providers == nil {
		providers = []string{}
	}
	reason := r.w.Reason(req.Reason)
	base := r.w.Envelope(req.Actor, req.RequestID, "enrich", "UNCLASSIFIED")
	recs := make([]appendlog.Record, 0, len(req.Records)+1)
	ids := make([]string, 0, len(req.Records))
	keys := make([]string, 0, len(req.Records))
	for _, rec := range req.Records {
		e := base
		e.ID = events.DeterministicID(base.RecordedAt, req.RequestID, "enrichment.requested", rec.Subject.Key)
		e.Key = rec.Subject.Key
		e.Classification = rec.Classification
		e.Payload = events.EnrichmentRequested{Subject: rec.Subject, Providers: providers, Reason: reason}
		recs = append(recs, appendlog.Record{Topic: r.w.EventsTopic(), Event: e})
		ids = append(ids, e.ID.String())
		keys = append(keys, rec.Subject.Key)
	}
	audit := base
	audit.ID = events.DeterministicID(base.RecordedAt, req.RequestID, "enrichment.requested", "audit")
	audit.Key = req.Actor.Subject
	details := []events.AuditDetail{{Name: "reason", Value: reason}}
	for _, p := range providers {
		details = append(details, events.AuditDetail{Name: "provider", Value: p})
	}
	audit.Payload = events.AuditRecorded{Action: "enrich", Outcome: "requested", Records: keys, Details: details}
	recs = append(recs, appendlog.Record{Topic: r.w.AuditTopic(), Event: audit})
	if err := r.w.Append(ctx, req.Headers, recs...); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrLogUnavailable, err)
	}
	return ids, nil
}
