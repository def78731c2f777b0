package graph

import (
	"bytes"
	"time"

	"github.com/google/uuid"

	"github.com/heimdallhub/heimdall/events"
)

// EnrichmentSourcePrefix starts the provenance source of enrichment events:
// "enrichment/<provider>".
const EnrichmentSourcePrefix = "enrichment/"

// EnrichmentResult is the latest result of one provider about one record:
// the enrichment view. Between two results of a provider about a record the
// later completion wins (then the greater event id), so the view does not
// depend on the order results arrive in.
type EnrichmentResult struct {
	RecordKey      string
	Provider       string
	ProviderType   string
	JobID          string
	EventID        uuid.UUID
	Outcome        string
	ErrorClass     string
	ErrorReason    string
	DataVersion    string
	Classification string
	Attempts       int32
	RequestedAt    time.Time
	CompletedAt    time.Time
	ExpiresAt      time.Time
	Attributes     []events.Attribute
	Relations      []string // relationship keys
	Vector         []float32
}

// Later reports whether r supersedes o.
func (r EnrichmentResult) Later(o EnrichmentResult) bool {
	if !r.CompletedAt.Equal(o.CompletedAt) {
		return r.CompletedAt.After(o.CompletedAt)
	}
	return bytes.Compare(r.EventID[:], o.EventID[:]) > 0
}

// addEnrichment adds what one enrichment result contributes: the provider's
// attributes (named "<provider>.<name>") and source on the subject, the
// relations it found with their far ends (observed by the provider at
// completion, with the event's classification), and the enrichment view.
// A failed or empty result adds only the view.
func addEnrichment(e events.Event, p events.EnrichmentRecorded, acc *accumulator) {
	source := EnrichmentSourcePrefix + p.Provider
	at := storedTime(p.CompletedAt)
	cls := NormalizeClassification(e.Classification)
	mergeE := acc.entity
	view := EnrichmentResult{
		RecordKey: e.Key, Provider: p.Provider, ProviderType: p.ProviderType, JobID: p.JobID, EventID: e.ID,
		Outcome: p.Outcome, ErrorClass: p.ErrorClass, ErrorReason: p.ErrorReason, DataVersion: p.DataVersion,
		Classification: cls, Attempts: p.Attempts,
		RequestedAt: storedTime(p.RequestedAt), CompletedAt: at, ExpiresAt: storedTime(p.ExpiresAt()),
		Attributes: p.Attributes, Vector: p.Vector,
	}
	if p.Outcome == events.EnrichmentOK {
		subject := EntityState{Key: p.Subject.Key, Kind: p.Subject.Kind, Value: p.Subject.Value, Sources: []string{source}}
		if len(p.Attributes) > 0 {
			as := make([]events.Attribute, len(p.Attributes))
			for i, a := range p.Attributes {
				as[i] = events.Attribute{Name: p.Provider + "." + a.Name, Value: a.Value}
			}
			subject.Attributes = AttributesOf(as)
		}
		mergeE(subject)
		for _, r := range p.Relations {
			for _, ep := range []events.Endpoint{r.Source, r.Target} {
				if ep.Key == p.Subject.Key {
					continue
				}
				mergeE(EntityState{Key: ep.Key, Kind: ep.Kind, Value: ep.Value, Observed: true,
					FirstSeen: at, LastSeen: at, Sources: []string{source}, Vector: e.Vector, Classification: cls,
					Levels: LevelClock{cls: e.HLC}})
			}
			acc.relation(RelationState{
				Key: r.Key, Type: r.RelationType, SourceKey: r.Source.Key, TargetKey: r.Target.Key,
				FirstSeen: at, LastSeen: at, Sources: []string{source}, Vector: e.Vector,
				Attributes: AttributesOf(r.Attributes), Classification: cls, Levels: LevelClock{cls: e.HLC},
			})
			view.Relations = append(view.Relations, r.Key)
		}
	}
	acc.view(view)
}
