package events

import (
	"sort"
	"time"
)

// Attribute is a named, non-personal value attached to an entity or relation.
type Attribute struct {
	Name  string `avro:"name"`
	Value string `avro:"value"`
}

// SortAttributes orders attributes by name, then value, so encodings are
// deterministic.
func SortAttributes(as []Attribute) {
	sort.Slice(as, func(i, j int) bool {
		if as[i].Name != as[j].Name {
			return as[i].Name < as[j].Name
		}
		return as[i].Value < as[j].Value
	})
}

// EntityObserved says an observable was seen in an input record.
type EntityObserved struct {
	Kind       string      `avro:"kind"`
	Value      string      `avro:"value"`
	ObservedAt time.Time   `avro:"observed_at"`
	Attributes []Attribute `avro:"attributes"`
}

// EventType implements Payload.
func (EntityObserved) EventType() string { return TypeEntityObserved }

// Endpoint is one end of a relation.
type Endpoint struct {
	Key   string `avro:"key"`
	Kind  string `avro:"kind"`
	Value string `avro:"value"`
}

// RelationObserved says a relationship between two observables was seen.
type RelationObserved struct {
	RelationType string      `avro:"relation_type"`
	Source       Endpoint    `avro:"source"`
	Target       Endpoint    `avro:"target"`
	ObservedAt   time.Time   `avro:"observed_at"`
	Attributes   []Attribute `avro:"attributes"`
}

// EventType implements Payload.
func (RelationObserved) EventType() string { return TypeRelationObserved }

// IngestRejected records an input record that could not be accepted. Its
// location is the event's provenance; Reason never contains input values.
type IngestRejected struct {
	Code   string `avro:"code"`
	Reason string `avro:"reason"`
	// Content is the record's raw bytes after the PII policy (schema v2;
	// "" when read from v1 or dropped by the policy).
	Content          string `avro:"content"`
	ContentTruncated bool   `avro:"content_truncated"`
}

// EventType implements Payload.
func (IngestRejected) EventType() string { return TypeIngestRejected }

// DecryptionAudited records a request to decrypt sealed personal data: what
// was asked and how each item ended. It never holds plaintext or
// ciphertext.
type DecryptionAudited struct {
	Purpose string           `avro:"purpose"`
	Items   []DecryptionItem `avro:"items"`
}

// DecryptionItem is one value a decryption request named.
type DecryptionItem struct {
	RecordKey string `avro:"record_key"`
	Field     string `avro:"field"`
	DataKeyID string `avro:"data_key_id"`
	Outcome   string `avro:"outcome"`
}

// EventType implements Payload.
func (DecryptionAudited) EventType() string { return TypeDecryptionAudited }

// ClassificationChanged sets the classification of an entity or relation.
type ClassificationChanged struct {
	RecordType string `avro:"record_type"` // entity or relation
	Level      string `avro:"level"`
	Reason     string `avro:"reason"`
}

// EventType implements Payload.
func (ClassificationChanged) EventType() string { return TypeClassificationChanged }

// RetractionRequested retracts what one batch or source contributed to the
// records the retracting actor may see.
type RetractionRequested struct {
	Scope  string `avro:"scope"` // batch or source
	ID     string `avro:"id"`
	Reason string `avro:"reason"`
	// Clearance is the retracting actor's clearance level: the retraction
	// reaches only records at or below it (graph.Retraction). Empty, in
	// events written before version 2 of the schema, reaches every level.
	Clearance string `avro:"clearance"`
}

// EventType implements Payload.
func (RetractionRequested) EventType() string { return TypeRetractionRequested }

// AuditRecorded records a write for the audit trail.
type AuditRecorded struct {
	Action  string        `avro:"action"`
	Outcome string        `avro:"outcome"`
	Records []string      `avro:"records"`
	Details []AuditDetail `avro:"details"`
}

// AuditDetail is one non-personal fact of an audited write.
type AuditDetail struct {
	Name  string `avro:"name"`
	Value string `avro:"value"`
}

// EventType implements Payload.
func (AuditRecorded) EventType() string { return TypeAuditRecorded }

// Enrichment outcomes.
const (
	EnrichmentOK       = "ok"
	EnrichmentNotFound = "not_found"
	EnrichmentFailed   = "failed"
)

// EnrichmentRecorded is one provider's answer (or classified failure) about
// one observable, appended by an enrichment worker.
type EnrichmentRecorded struct {
	Provider     string               `avro:"provider"`
	ProviderType string               `avro:"provider_type"`
	Subject      Endpoint             `avro:"subject"`
	JobID        string               `avro:"job_id"`
	RequestedAt  time.Time            `avro:"requested_at"`
	CompletedAt  time.Time            `avro:"completed_at"`
	TTLSeconds   int64                `avro:"ttl_seconds"`
	Outcome      string               `avro:"outcome"`
	ErrorClass   string               `avro:"error_class"`
	ErrorReason  string               `avro:"error_reason"`
	Attempts     int32                `avro:"attempts"`
	DataVersion  string               `avro:"data_version"`
	Attributes   []Attribute          `avro:"attributes"`
	Relations    []EnrichmentRelation `avro:"relations"`
	Vector       []float32            `avro:"vector"`
}

// EventType implements Payload.
func (EnrichmentRecorded) EventType() string { return TypeEnrichmentRecorded }

// ExpiresAt is when the result stops standing.
func (e EnrichmentRecorded) ExpiresAt() time.Time {
	return e.CompletedAt.Add(time.Duration(e.TTLSeconds) * time.Second)
}

// EnrichmentRelation is a relation an enrichment found; one end is the
// subject.
type EnrichmentRelation struct {
	RelationType string      `avro:"relation_type"`
	Key          string      `avro:"key"`
	Source       Endpoint    `avro:"source"`
	Target       Endpoint    `avro:"target"`
	Attributes   []Attribute `avro:"attributes"`
}

// EnrichmentRequested asks for a record to be enriched again now.
type EnrichmentRequested struct {
	Subject   Endpoint `avro:"subject"`
	Providers []string `avro:"providers"`
	Reason    string   `avro:"reason"`
}

// EventType implements Payload.
func (EnrichmentRequested) EventType() string { return TypeEnrichmentRequested }

// payloadTypes maps event types to the schema record name and a constructor
// for the Go value decoded into.
var payloadTypes = map[string]struct {
	record string
	zero   func() any
	deref  func(any) Payload
}{
	TypeEntityObserved: {
		record: "heimdall.events.EntityObserved",
		zero:   func() any { return new(EntityObserved) },
		deref:  func(v any) Payload { return *v.(*EntityObserved) },
	},
	TypeRelationObserved: {
		record: "heimdall.events.RelationObserved",
		zero:   func() any { return new(RelationObserved) },
		deref:  func(v any) Payload { return *v.(*RelationObserved) },
	},
	TypeIngestRejected: {
		record: "heimdall.events.IngestRejected",
		zero:   func() any { return new(IngestRejected) },
		deref:  func(v any) Payload { return *v.(*IngestRejected) },
	},
	TypeClassificationChanged: {
		record: "heimdall.events.ClassificationChanged",
		zero:   func() any { return new(ClassificationChanged) },
		deref:  func(v any) Payload { return *v.(*ClassificationChanged) },
	},
	TypeRetractionRequested: {
		record: "heimdall.events.RetractionRequested",
		zero:   func() any { return new(RetractionRequested) },
		deref:  func(v any) Payload { return *v.(*RetractionRequested) },
	},
	TypeAuditRecorded: {
		record: "heimdall.events.AuditRecorded",
		zero:   func() any { return new(AuditRecorded) },
		deref:  func(v any) Payload { return *v.(*AuditRecorded) },
	},
	TypeEnrichmentRecorded: {
		record: "heimdall.events.EnrichmentRecorded",
		zero:   func() any { return new(EnrichmentRecorded) },
		deref:  func(v any) Payload { return *v.(*EnrichmentRecorded) },
	},
	TypeEnrichmentRequested: {
		record: "heimdall.events.EnrichmentRequested",
		zero:   func() any { return new(EnrichmentRequested) },
		deref:  func(v any) Payload { return *v.(*EnrichmentRequested) },
	},
	TypeDecryptionAudited: {
		record: "heimdall.events.DecryptionAudited",
		zero:   func() any { return new(DecryptionAudited) },
		deref:  func(v any) Payload { return *v.(*DecryptionAudited) },
	},
}
