package events

import (
	"time"

	"github.com/google/uuid"
)

// Event types written by Heimdall. The event type names the payload record.
const (
	TypeEntityObserved   = "entity.observed"
	TypeRelationObserved = "relation.observed"
	TypeIngestRejected   = "ingest.rejected"
	// TypeClassificationChanged sets the classification of a record.
	TypeClassificationChanged = "classification.changed"
	// TypeRetractionRequested retracts an ingest batch or a source.
	TypeRetractionRequested = "retraction.requested"
	// TypeEnrichmentRecorded is one provider's answer about one observable.
	TypeEnrichmentRecorded = "enrichment.recorded"
	// TypeEnrichmentRequested asks for a record to be enriched again.
	TypeEnrichmentRequested = "enrichment.requested"
	// TypeAuditRecorded records a write on the audit topic.
	TypeAuditRecorded = "audit.recorded"
	// TypeDecryptionAudited records a request to decrypt sealed values.
	TypeDecryptionAudited = "pii.decryption_audited"
)

// Actor is the authenticated caller a write is attributed to.
type Actor struct {
	Subject string `avro:"subject"`
	Issuer  string `avro:"issuer"`
}

// Provenance locates the input an event was derived from.
type Provenance struct {
	Source     string `avro:"source"`
	Format     string `avro:"format"`
	File       string `avro:"file"`
	Line       int64  `avro:"line"`
	ByteOffset int64  `avro:"byte_offset"`
}

// Event is one entry of the event log: the envelope fields and a typed payload.
type Event struct {
	ID             uuid.UUID
	Type           string
	SchemaVersion  int
	Key            string
	OriginPeer     string
	Vector         VersionVector
	HLC            HLC
	Actor          Actor
	RequestID      string
	BatchID        string
	RecordedAt     time.Time
	Provenance     Provenance
	Classification string
	PolicyVersion  string
	Payload        Payload
}

// Payload is the typed body of an event.
type Payload interface {
	// EventType is the event type the payload belongs to.
	EventType() string
}

// Unknown is the payload of an event whose type this build does not know (a
// newer writer). Consumers skip it; its bytes are kept so it can be forwarded.
type Unknown struct {
	Type string
	Raw  []byte
}

// EventType implements Payload.
func (u Unknown) EventType() string { return u.Type }

// envelope is the Avro shape of Event.
type envelope struct {
	EventID        string         `avro:"event_id"`
	EventType      string         `avro:"event_type"`
	SchemaVersion  int32          `avro:"schema_version"`
	RecordKey      string         `avro:"record_key"`
	OriginPeer     string         `avro:"origin_peer"`
	VersionVector  []VersionEntry `avro:"version_vector"`
	HLC            int64          `avro:"hlc"`
	Actor          Actor          `avro:"actor"`
	RequestID      string         `avro:"request_id"`
	BatchID        string         `avro:"batch_id"`
	RecordedAt     time.Time      `avro:"recorded_at"`
	Provenance     Provenance     `avro:"provenance"`
	Classification string         `avro:"classification"`
	PolicyVersion  string         `avro:"policy_version"`
	Payload        []byte         `avro:"payload"`
}

// VersionEntry is one peer's counter in a version vector.
type VersionEntry struct {
	Peer    string `avro:"peer"`
	Counter int64  `avro:"counter"`
}
