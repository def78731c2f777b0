package enrich

import (
	"math"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/internal/enrichment"
	"github.com/heimdallhub/heimdall/internal/observable"
)

// Bounds on what one result may carry into the log.
const (
	maxAttributes     = 64
	maxRelations      = 64
	maxAttributeBytes = 512
	maxVector         = 8192
)

var (
	attributeName = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)
	edgeLabel     = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,62}$`)
)

// outcomeOf maps a provider answer to the event's outcome.
func outcomeOf(res enrichment.Result, err error) string {
	switch {
	case err != nil:
		return events.EnrichmentFailed
	case res.NotFound:
		return events.EnrichmentNotFound
	}
	return events.EnrichmentOK
}

// clean makes an attribute value safe to store: scrubbed of personal data,
// valid UTF-8 without NUL, bounded.
func clean(scrub func(string) string, s string) string {
	s = strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "")
	s = strings.TrimSpace(scrub(s))
	if len(s) > maxAttributeBytes {
		s = s[:maxAttributeBytes]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	return s
}

func attributes(scrub func(string) string, in []enrichment.Attribute) []events.Attribute {
	out := make([]events.Attribute, 0, min(len(in), maxAttributes))
	seen := map[events.Attribute]bool{}
	for _, a := range in {
		if len(out) == maxAttributes {
			break
		}
		if !attributeName.MatchString(a.Name) {
			continue
		}
		v := clean(scrub, a.Value)
		at := events.Attribute{Name: a.Name, Value: v}
		if v == "" || seen[at] {
			continue
		}
		seen[at] = true
		out = append(out, at)
	}
	events.SortAttributes(out)
	return out
}

// relations canonicalises the targets a provider found; targets that are
// not valid observables of their kind, and relation types that are not edge
// labels, are dropped.
func relations(scrub func(string) string, subject events.Endpoint, in []enrichment.Relation) []events.EnrichmentRelation {
	out := make([]events.EnrichmentRelation, 0, min(len(in), maxRelations))
	seen := map[string]bool{}
	for _, r := range in {
		if len(out) == maxRelations {
			break
		}
		if !edgeLabel.MatchString(r.Type) {
			continue
		}
		o, err := observable.Canonicalize(observable.Kind(r.Target.Kind), r.Target.Value)
		if err != nil {
			continue
		}
		key := o.Key()
		if key == "" || key == subject.Key {
			continue
		}
		target := events.Endpoint{Key: key, Kind: string(o.Kind), Value: o.Value}
		src, dst := subject, target
		if r.Reverse {
			src, dst = target, subject
		}
		rk := observable.RelationKey(src.Key, r.Type, dst.Key)
		if rk == "" || seen[rk] {
			continue
		}
		seen[rk] = true
		out = append(out, events.EnrichmentRelation{
			RelationType: r.Type, Key: rk, Source: src, Target: dst,
			Attributes: attributes(scrub, r.Attributes),
		})
	}
	return out
}

func vector(v []float32) []float32 {
	if len(v) > maxVector {
		return []float32{}
	}
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return []float32{}
		}
	}
	if v == nil {
		return []float32{}
	}
	return v
}

// payload builds the enrichment.recorded payload of a finished job.
func payload(spec *providerSpec, job Job, res enrichment.Result, err error, attempts int32, completed time.Time, scrub func(string) string) events.EnrichmentRecorded {
	p := events.EnrichmentRecorded{
		Provider: spec.name, ProviderType: spec.provider.Type(), Subject: job.Subject, JobID: job.ID,
		RequestedAt: job.RequestedAt.UTC(), CompletedAt: completed.UTC(), Attempts: attempts,
		Outcome:    outcomeOf(res, err),
		Attributes: []events.Attribute{}, Relations: []events.EnrichmentRelation{}, Vector: []float32{},
	}
	switch p.Outcome {
	case events.EnrichmentFailed:
		p.TTLSeconds = int64(spec.negativeTTL / time.Second)
		p.ErrorClass = string(enrichment.Classify(err))
		p.ErrorReason = clean(scrub, enrichment.Reason(err))
	case events.EnrichmentNotFound:
		p.TTLSeconds = int64(spec.negativeTTL / time.Second)
		p.DataVersion = clean(scrub, res.Version)
	default:
		p.TTLSeconds = int64(spec.ttl / time.Second)
		p.DataVersion = clean(scrub, res.Version)
		p.Attributes = attributes(scrub, res.Attributes)
		p.Relations = relations(scrub, job.Subject, res.Relations)
		p.Vector = vector(res.Vector)
	}
	return p
}
