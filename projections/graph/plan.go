package graph

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/heimdallhub/heimdall/events"
)

// MaxKeyBytes bounds record and endpoint keys: they are indexed, and
// canonical keys are far shorter.
const MaxKeyBytes = 1024

// outcome classifies what a record contributes.
type outcome int

const (
	outcomeEntity outcome = iota
	outcomeRelation
	outcomeRejected      // an ingest.rejected event: not part of the graph
	outcomeUnknown       // an event type this build does not know
	outcomeUndecodable   // bytes that do not decode
	outcomeInvalid       // decodes, but cannot be stored (bad key, text, time)
	outcomeInvalidLabel  // a relation type that is not a valid edge label
	outcomeIgnoredNoData // an empty record (for example a tombstone)
	outcomeClassified    // a classification.changed event
	outcomeRetraction    // a retraction.requested event
	outcomeEnrichment    // an enrichment.recorded event
	outcomeIgnored       // an event the graph has no use for (enrichment.requested)
)

// decoded is one log record after decoding and validation.
type decoded struct {
	tp      TopicPartition
	offset  int64
	outcome outcome
	reason  string // for undecodable and invalid records, without values
	key     string // the record key when it is loggable, else empty
	event   events.Event
}

// decodeRecord decodes and validates one record. It never fails: problems
// become an outcome with a reason.
func decodeRecord(codec *events.Codec, r events.LogRecord) decoded {
	d := decoded{tp: TopicPartition{Topic: r.Topic, Partition: r.Partition}, offset: r.Offset}
	if k := string(r.Key); len(k) <= MaxKeyBytes && storableText(k) {
		d.key = k
	}
	if len(r.Value) == 0 {
		d.outcome, d.reason = outcomeIgnoredNoData, "record has no value"
		return d
	}
	e, err := codec.Decode(r.Value)
	if err != nil {
		d.outcome, d.reason = outcomeUndecodable, decodeReason(err)
		return d
	}
	d.event = e
	switch p := e.Payload.(type) {
	case events.EntityObserved:
		d.outcome = outcomeEntity
		if reason := validateEntity(e, p); reason != "" {
			d.outcome, d.reason = outcomeInvalid, reason
		}
	case events.RelationObserved:
		d.outcome = outcomeRelation
		if reason := validateRelation(e, p); reason != "" {
			d.outcome, d.reason = outcomeInvalid, reason
		} else if !ValidEdgeLabel(p.RelationType) {
			d.outcome, d.reason = outcomeInvalidLabel, "relation type is not a valid edge label (^[A-Z][A-Z0-9_]{0,62}$, not a vertex label)"
		}
	case events.IngestRejected:
		d.outcome = outcomeRejected
	case events.EnrichmentRequested:
		d.outcome = outcomeIgnored
	case events.EnrichmentRecorded:
		d.outcome = outcomeEnrichment
		if reason := validateEnrichment(e, p); reason != "" {
			d.outcome, d.reason = outcomeInvalid, reason
		}
	case events.RetractionRequested:
		d.outcome = outcomeRetraction
		if reason := validateEnvelope(e); reason != "" {
			d.outcome, d.reason = outcomeInvalid, reason
		} else if (p.Scope != "batch" && p.Scope != "source") || p.ID == "" || !storableText(p.ID) {
			d.outcome, d.reason = outcomeInvalid, "retraction of an unknown scope or without an id"
		}
	case events.ClassificationChanged:
		d.outcome = outcomeClassified
		if reason := validateEnvelope(e); reason != "" {
			d.outcome, d.reason = outcomeInvalid, reason
		} else if p.RecordType != "entity" && p.RecordType != "relation" {
			d.outcome, d.reason = outcomeInvalid, "classification change of an unknown record type"
		} else if ClassificationRank(p.Level) >= len(currentLevels()) {
			d.outcome, d.reason = outcomeInvalid, "classification change to an unknown level"
		}
	default:
		d.outcome = outcomeUnknown
	}
	return d
}

// Reasons for records that do not decode. They are fixed texts: codec errors
// may quote parts of the record (its event type, for one).
const (
	reasonNotSingleObject = "value is not an Avro single-object encoding"
	reasonUnknownSchema   = "value was written with an unknown schema (writer fingerprint not among the schema files)"
	reasonIncompatible    = "value was written with a schema the reader schema cannot resolve"
	reasonMalformed       = "value does not decode as a Heimdall event (malformed Avro body)"
)

// decodeReason describes a decoding error without echoing record contents.
func decodeReason(err error) string {
	switch {
	case errors.Is(err, events.ErrNotSingleObject):
		return reasonNotSingleObject
	case errors.Is(err, events.ErrUnknownSchema):
		return reasonUnknownSchema
	case errors.Is(err, events.ErrIncompatible):
		return reasonIncompatible
	}
	return reasonMalformed
}

func validateEnvelope(e events.Event) string {
	if e.Key == "" {
		return "record key is empty"
	}
	if len(e.Key) > MaxKeyBytes {
		return fmt.Sprintf("record key is longer than %d bytes", MaxKeyBytes)
	}
	fields := []struct{ name, v string }{
		{"record_key", e.Key}, {"event_type", e.Type}, {"origin_peer", e.OriginPeer},
		{"actor.subject", e.Actor.Subject}, {"actor.issuer", e.Actor.Issuer},
		{"request_id", e.RequestID}, {"batch_id", e.BatchID},
		{"provenance.source", e.Provenance.Source}, {"provenance.format", e.Provenance.Format},
		{"provenance.file", e.Provenance.File}, {"classification", e.Classification},
	}
	for _, f := range fields {
		if !storableText(f.v) {
			return "field " + f.name + " is not valid UTF-8 text without NUL"
		}
	}
	for p := range e.Vector {
		if !storableText(p) {
			return "a version vector peer id is not valid UTF-8 text without NUL"
		}
	}
	if !storableTime(e.RecordedAt) {
		return "recorded_at is outside years 1 to 9999"
	}
	return ""
}

func validateEntity(e events.Event, p events.EntityObserved) string {
	if r := validateEnvelope(e); r != "" {
		return r
	}
	if p.Kind == "" {
		return "entity kind is empty"
	}
	if !storableText(p.Kind) || !storableText(p.Value) {
		return "entity kind or value is not valid UTF-8 text without NUL"
	}
	if !storableTime(p.ObservedAt) {
		return "observed_at is outside years 1 to 9999"
	}
	return validateAttributes(p.Attributes)
}

func validateRelation(e events.Event, p events.RelationObserved) string {
	if r := validateEnvelope(e); r != "" {
		return r
	}
	for _, ep := range []struct {
		name string
		e    events.Endpoint
	}{{"source", p.Source}, {"target", p.Target}} {
		switch {
		case ep.e.Key == "":
			return ep.name + " endpoint key is empty"
		case len(ep.e.Key) > MaxKeyBytes:
			return fmt.Sprintf("%s endpoint key is longer than %d bytes", ep.name, MaxKeyBytes)
		case ep.e.Kind == "":
			return ep.name + " endpoint kind is empty"
		case !storableText(ep.e.Key) || !storableText(ep.e.Kind) || !storableText(ep.e.Value):
			return ep.name + " endpoint is not valid UTF-8 text without NUL"
		}
	}
	if !storableText(p.RelationType) {
		return "relation type is not valid UTF-8 text without NUL"
	}
	if !storableTime(p.ObservedAt) {
		return "observed_at is outside years 1 to 9999"
	}
	return validateAttributes(p.Attributes)
}

func validateEnrichment(e events.Event, p events.EnrichmentRecorded) string {
	if r := validateEnvelope(e); r != "" {
		return r
	}
	if p.Subject.Key != e.Key {
		return "enrichment subject is not the record key"
	}
	if p.Provider == "" || !storableText(p.Provider) || !storableText(p.ProviderType) || !storableText(p.JobID) ||
		!storableText(p.Outcome) || !storableText(p.ErrorClass) || !storableText(p.ErrorReason) || !storableText(p.DataVersion) {
		return "enrichment provider, job, outcome or error is empty or not valid UTF-8 text without NUL"
	}
	if p.Subject.Kind == "" || !storableText(p.Subject.Kind) || !storableText(p.Subject.Value) {
		return "enrichment subject is not valid UTF-8 text without NUL"
	}
	if !storableTime(p.RequestedAt) || !storableTime(p.CompletedAt) || !storableTime(p.ExpiresAt()) {
		return "enrichment times are outside years 1 to 9999"
	}
	for _, r := range p.Relations {
		if !ValidEdgeLabel(r.RelationType) {
			return "an enrichment relation type is not a valid edge label"
		}
		if r.Source.Key != p.Subject.Key && r.Target.Key != p.Subject.Key {
			return "an enrichment relation does not touch its subject"
		}
		for _, ep := range []events.Endpoint{r.Source, r.Target} {
			if ep.Key == "" || len(ep.Key) > MaxKeyBytes || ep.Kind == "" || !storableText(ep.Key) || !storableText(ep.Kind) || !storableText(ep.Value) {
				return "an enrichment relation endpoint is empty, too long or not valid UTF-8 text"
			}
		}
		if r.Key == "" || len(r.Key) > MaxKeyBytes || !storableText(r.Key) {
			return "an enrichment relation key is empty, too long or not valid UTF-8 text"
		}
		if reason := validateAttributes(r.Attributes); reason != "" {
			return reason
		}
	}
	for _, v := range p.Vector {
		if v != v || v > 3.4e38 || v < -3.4e38 {
			return "an enrichment vector holds a value that is not finite"
		}
	}
	return validateAttributes(p.Attributes)
}

func validateAttributes(as []events.Attribute) string {
	for _, a := range as {
		if !storableText(a.Name) || !storableText(a.Value) {
			return "an attribute is not valid UTF-8 text without NUL"
		}
	}
	return ""
}

// storableText reports whether PostgreSQL text can hold s.
func storableText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// storableTime reports whether t fits PostgreSQL timestamps and RFC 3339.
func storableTime(t time.Time) bool {
	y := t.UTC().Year()
	return y >= 1 && y <= 9999
}

// exclusive reports whether a batch holds a retraction or a
// classification change: the store serialises such a batch against every
// other batch of the generation (see ApplyRequest.Exclusive).
func exclusive(ds []decoded) bool {
	for _, d := range ds {
		if d.outcome == outcomeRetraction || d.outcome == outcomeClassified {
			return true
		}
	}
	return false
}

// labelsOf lists the vertex and edge labels the valid records of a batch
// need, sorted.
func labelsOf(ds []decoded) (vertex, edge []string) {
	vs, es := map[string]bool{}, map[string]bool{}
	for _, d := range ds {
		switch p := d.event.Payload.(type) {
		case events.EntityObserved:
			if d.outcome == outcomeEntity {
				vs[VertexLabel(p.Kind)] = true
			}
		case events.RelationObserved:
			if d.outcome == outcomeRelation {
				vs[VertexLabel(p.Source.Kind)] = true
				vs[VertexLabel(p.Target.Kind)] = true
				es[p.RelationType] = true
			}
		case events.EnrichmentRecorded:
			if d.outcome == outcomeEnrichment {
				vs[VertexLabel(p.Subject.Kind)] = true
				for _, r := range p.Relations {
					vs[VertexLabel(r.Source.Kind)] = true
					vs[VertexLabel(r.Target.Kind)] = true
					es[r.RelationType] = true
				}
			}
		}
	}
	for l := range vs {
		vertex = append(vertex, l)
	}
	for l := range es {
		edge = append(edge, l)
	}
	slices.Sort(vertex)
	slices.Sort(edge)
	return vertex, edge
}

// planStats counts what one planned batch did.
type planStats struct {
	entities, relations, replayed, rejected, unknown, undecodable, invalid, invalidLabel, empty, classified int64
	retractions, retracted, enrichments, ignored                                                            int64
	warnings                                                                                                []decoded
}

// plan turns the decoded records of a batch into the changes to apply, given
// the stored next offset of each partition: records below it were applied
// by an earlier batch and are skipped.
func plan(ds []decoded, stored map[TopicPartition]int64, retracted Retracted) (*Changes, planStats) {
	var st planStats
	// Retractions of this batch count for all of it: what it holds of a
	// retracted batch or source would be removed anyway.
	all := Retracted{Batches: maps.Clone(retracted.Batches), Sources: maps.Clone(retracted.Sources)}
	for _, d := range ds {
		if p, ok := d.event.Payload.(events.RetractionRequested); ok && d.outcome == outcomeRetraction {
			if next, ok := stored[d.tp]; ok && d.offset < next {
				continue
			}
			all.Add(retractionOf(p))
		}
	}
	gone := func(e events.Event) bool { return all.Ignores(e.BatchID, e.Provenance.Source, e.Classification) }
	ch := &Changes{Offsets: map[TopicPartition]int64{}, Provenance: make([]ProvenanceRecord, 0, len(ds))}
	acc := newAccumulator(len(ds))
	type provKey struct {
		key string
		id  [16]byte
	}
	seenProv := make(map[provKey]bool, len(ds))
	addProv := func(e events.Event, observedAt time.Time) {
		k := provKey{e.Key, e.ID}
		if seenProv[k] {
			return
		}
		seenProv[k] = true
		ch.Provenance = append(ch.Provenance, ProvenanceRecord{
			RecordKey: e.Key, EventID: e.ID, EventType: e.Type, Provenance: e.Provenance,
			BatchID: e.BatchID, Actor: e.Actor, RequestID: e.RequestID, OriginPeer: e.OriginPeer,
			RecordedAt: e.RecordedAt.UTC(), ObservedAt: observedAt.UTC(),
		})
	}
	for _, d := range ds {
		if next, ok := stored[d.tp]; ok && d.offset < next {
			st.replayed++
			continue
		}
		if n, ok := ch.Offsets[d.tp]; !ok || d.offset+1 > n {
			ch.Offsets[d.tp] = d.offset + 1
		}
		if (d.outcome == outcomeEntity || d.outcome == outcomeRelation || d.outcome == outcomeEnrichment) && gone(d.event) {
			st.retracted++
			continue
		}
		switch d.outcome {
		case outcomeRetraction:
			st.retractions++
			p := d.event.Payload.(events.RetractionRequested)
			ch.Retractions = append(ch.Retractions, retractionOf(p))
		case outcomeEntity:
			st.entities++
			e, p := d.event, d.event.Payload.(events.EntityObserved)
			acc.event, acc.contribute = e, true
			acc.entity(entityDelta(e, p))
			addProv(e, p.ObservedAt)
		case outcomeRelation:
			st.relations++
			e, p := d.event, d.event.Payload.(events.RelationObserved)
			acc.event, acc.contribute = e, true
			acc.relation(relationDelta(e, p))
			for _, ep := range []events.Endpoint{p.Source, p.Target} {
				acc.entity(EntityState{Key: ep.Key, Kind: ep.Kind, Value: ep.Value})
			}
			addProv(e, p.ObservedAt)
		case outcomeClassified:
			st.classified++
			e, p := d.event, d.event.Payload.(events.ClassificationChanged)
			// Not a contribution: classification changes are never
			// retracted, and the register is kept with the state.
			acc.event, acc.contribute = e, false
			rc := Reclassification{Level: NormalizeClassification(p.Level), HLC: e.HLC, Peer: e.OriginPeer, EventID: e.ID, Vector: e.Vector}
			if p.RecordType == "entity" {
				acc.entity(EntityState{Key: e.Key, Reclassification: rc, ClassifyOnly: true})
				acc.reclassified(RecordEntity, e.Key, rc)
			} else {
				acc.relation(RelationState{Key: e.Key, Reclassification: rc, ClassifyOnly: true})
				acc.reclassified(RecordRelation, e.Key, rc)
			}
			addProv(e, e.RecordedAt)
		case outcomeEnrichment:
			st.enrichments++
			e, p := d.event, d.event.Payload.(events.EnrichmentRecorded)
			acc.event, acc.contribute = e, true
			addEnrichment(e, p, acc)
			addProv(e, p.CompletedAt)
			for _, r := range p.Relations {
				re := e
				re.Key = r.Key
				addProv(re, p.CompletedAt)
			}
		case outcomeIgnored:
			st.ignored++
		case outcomeRejected:
			st.rejected++
		case outcomeUnknown:
			st.unknown++
		case outcomeIgnoredNoData:
			st.empty++
			ch.Errors = append(ch.Errors, RecordError{TopicPartition: d.tp, Offset: d.offset, Reason: d.reason})
		case outcomeUndecodable, outcomeInvalid, outcomeInvalidLabel:
			switch d.outcome {
			case outcomeUndecodable:
				st.undecodable++
			case outcomeInvalid:
				st.invalid++
			default:
				st.invalidLabel++
			}
			st.warnings = append(st.warnings, d)
			ch.Errors = append(ch.Errors, RecordError{TopicPartition: d.tp, Offset: d.offset, Reason: d.reason})
		}
	}
	ch.Entities = make([]EntityState, 0, len(acc.entities))
	for _, s := range acc.entities {
		ch.Entities = append(ch.Entities, s)
	}
	slices.SortFunc(ch.Entities, func(a, b EntityState) int { return strings.Compare(a.Key, b.Key) })
	for _, r := range acc.views {
		ch.Enrichments = append(ch.Enrichments, r)
	}
	slices.SortFunc(ch.Enrichments, func(a, b EnrichmentResult) int {
		if c := strings.Compare(a.RecordKey, b.RecordKey); c != 0 {
			return c
		}
		return strings.Compare(a.Provider, b.Provider)
	})
	ch.Relations = make([]RelationState, 0, len(acc.relations))
	for _, r := range acc.relations {
		ch.Relations = append(ch.Relations, r)
	}
	slices.SortFunc(ch.Relations, func(a, b RelationState) int { return strings.Compare(a.Key, b.Key) })
	ch.Contributions = make([]Contribution, 0, len(acc.contrib))
	for _, c := range acc.contrib {
		ch.Contributions = append(ch.Contributions, *c)
	}
	slices.SortFunc(ch.Contributions, compareContributions)
	for _, r := range acc.reclass {
		ch.Reclassifications = append(ch.Reclassifications, r)
	}
	slices.SortFunc(ch.Reclassifications, CompareReclassified)
	// Sorted, so concurrent batches insert provenance rows in one order.
	slices.SortFunc(ch.Provenance, func(a, b ProvenanceRecord) int {
		if c := strings.Compare(a.RecordKey, b.RecordKey); c != 0 {
			return c
		}
		return bytes.Compare(a.EventID[:], b.EventID[:])
	})
	return ch, st
}

func entityDelta(e events.Event, p events.EntityObserved) EntityState {
	s := EntityState{
		Key: e.Key, Kind: p.Kind, Value: p.Value, Observed: true,
		FirstSeen: storedTime(p.ObservedAt), LastSeen: storedTime(p.ObservedAt),
		Vector:         e.Vector,
		Attributes:     AttributesOf(p.Attributes),
		Classification: NormalizeClassification(e.Classification),
		Levels:         LevelClock{NormalizeClassification(e.Classification): e.HLC},
	}
	if e.Provenance.Source != "" {
		s.Sources = []string{e.Provenance.Source}
	}
	return s
}

func relationDelta(e events.Event, p events.RelationObserved) RelationState {
	r := RelationState{
		Key: e.Key, Type: p.RelationType, SourceKey: p.Source.Key, TargetKey: p.Target.Key,
		FirstSeen: storedTime(p.ObservedAt), LastSeen: storedTime(p.ObservedAt),
		Vector:         e.Vector,
		Attributes:     AttributesOf(p.Attributes),
		Classification: NormalizeClassification(e.Classification),
		Levels:         LevelClock{NormalizeClassification(e.Classification): e.HLC},
	}
	if e.Provenance.Source != "" {
		r.Sources = []string{e.Provenance.Source}
	}
	return r
}

// accumulator merges what the events of a batch add, per record key, and
// per (record, event) the contributions a retraction may take back.
type accumulator struct {
	entities  map[string]EntityState
	relations map[string]RelationState
	views     map[[2]string]EnrichmentResult
	contrib   map[contributionKey]*Contribution
	reclass   map[contributionKey]Reclassified
	// event is the event being added; its contributions are recorded
	// when contribute is set (not for classification changes).
	event      events.Event
	contribute bool
}

type contributionKey struct {
	key, typ string
	id       [16]byte
}

func newAccumulator(n int) *accumulator {
	return &accumulator{
		entities: make(map[string]EntityState, n), relations: make(map[string]RelationState, n/2),
		views: map[[2]string]EnrichmentResult{}, contrib: make(map[contributionKey]*Contribution, n),
		reclass: map[contributionKey]Reclassified{},
	}
}

// reclassified keeps one classification change for the conflict log (the
// first of an event: a forged twin does not replace it).
func (a *accumulator) reclassified(typ, key string, r Reclassification) {
	k := contributionKey{key, typ, r.EventID}
	if _, ok := a.reclass[k]; !ok {
		a.reclass[k] = Reclassified{RecordType: typ, RecordKey: key, Reclassification: r}
	}
}

func (a *accumulator) contribution(key, typ string) *Contribution {
	if !a.contribute {
		return nil
	}
	k := contributionKey{key, typ, a.event.ID}
	c := a.contrib[k]
	if c == nil {
		c = &Contribution{RecordKey: key, Type: typ, EventID: a.event.ID, BatchID: a.event.BatchID, Source: a.event.Provenance.Source}
		a.contrib[k] = c
	}
	return c
}

func (a *accumulator) entity(s EntityState) {
	if c := a.contribution(s.Key, ContributionEntity); c != nil {
		if c.Entity.Key == "" {
			c.Entity = s
		} else {
			c.Entity = MergeEntity(c.Entity, s)
		}
	}
	if prev, ok := a.entities[s.Key]; ok {
		s = MergeEntity(prev, s)
	}
	a.entities[s.Key] = s
}

func (a *accumulator) relation(r RelationState) {
	if c := a.contribution(r.Key, ContributionRelation); c != nil {
		if c.Relation.Key == "" {
			c.Relation = r
		} else {
			c.Relation = MergeRelation(c.Relation, r)
		}
	}
	if prev, ok := a.relations[r.Key]; ok {
		r = MergeRelation(prev, r)
	}
	a.relations[r.Key] = r
}

func (a *accumulator) view(v EnrichmentResult) {
	if c := a.contribution(v.RecordKey, ContributionEnrichment); c != nil {
		c.Enrichment = v
	}
	k := [2]string{v.RecordKey, v.Provider}
	if prev, ok := a.views[k]; !ok || v.Later(prev) {
		a.views[k] = v
	}
}

// storedTime is t as stores keep it: UTC, microseconds (Avro's
// timestamp-micros and PostgreSQL's precision), so a state read back equals
// the state written.
func storedTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// retractionOf is the retraction a retraction.requested event asks for.
func retractionOf(p events.RetractionRequested) Retraction {
	return Retraction{Scope: p.Scope, ID: p.ID, Clearance: p.Clearance}
}
