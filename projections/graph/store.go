package graph

import (
	"bytes"
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/heimdallhub/heimdall/events"
)

// ErrGenerationChanged is returned by Handle (and by a Store's Apply) when
// the generation the projector writes to is no longer the one it must write
// to: in live mode a rebuild was activated; in rebuild mode the generation
// was retired or dropped. The consumer must stop, reload its offsets with
// Offsets (which follows the new generation) and continue from there.
var ErrGenerationChanged = errors.New("graph generation changed")

// ErrNotFound is returned by reads for a key the graph does not hold.
var ErrNotFound = errors.New("not found")

// GenerationState is the life-cycle state of a graph generation.
type GenerationState string

// Generation states. Exactly one generation is active at a time.
const (
	GenerationBuilding GenerationState = "building"
	GenerationActive   GenerationState = "active"
	GenerationRetired  GenerationState = "retired"
)

// Generation is one complete copy of the graph read model: an AGE graph with
// its state, provenance and offset tables. A rebuild writes a new generation
// while readers use the active one, then activates it.
type Generation struct {
	ID          int64
	Graph       string // AGE graph name (heimdall_<id>)
	State       GenerationState
	CreatedAt   time.Time
	ActivatedAt time.Time // zero until activated
}

// TopicPartition names one partition of a topic.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// Store is what the projector needs from the database holding the graph.
// internal/graphstore implements it with PostgreSQL and Apache AGE.
type Store interface {
	// ActiveGeneration returns the generation readers currently use.
	ActiveGeneration(ctx context.Context) (Generation, error)
	// Offsets returns the next offset to consume of each given partition
	// as stored in gen; a partition without a stored offset is absent.
	Offsets(ctx context.Context, gen Generation, topic string, partitions []int32) (map[int32]int64, error)
	// EnsureLabels creates the vertex and edge labels of gen's graph that
	// do not exist yet. It is safe to call concurrently. It returns
	// ErrGenerationChanged if gen is retired or gone.
	EnsureLabels(ctx context.Context, gen Generation, vertexLabels, edgeLabels []string) error
	// Apply runs one transaction on req.Generation, as described on
	// ApplyRequest.
	Apply(ctx context.Context, req ApplyRequest) error
}

// ApplyRequest is one batch for Store.Apply. In one transaction, the store:
//
//  1. checks the generation: still active when RequireActive, else not
//     retired; otherwise it returns ErrGenerationChanged;
//  2. locks the stored offsets of Partitions (in order) and calls Plan with
//     them (absent partitions have no entry); Plan may be called again if
//     the transaction is retried;
//  3. merges Plan's changes into the stored state, writes vertices, edges,
//     provenance and errors idempotently, adds Changes.Reclassifications
//     to the conflict log and records the conflicts they bring
//     (NewConflicts against the changes it holds of those records), stores
//     the next offsets, commits.
type ApplyRequest struct {
	Generation    Generation
	RequireActive bool
	Partitions    []TopicPartition
	// Plan gets the stored next offsets and what has been retracted.
	Plan func(next map[TopicPartition]int64, retracted Retracted) (*Changes, error)
	// Exclusive says the batch holds a retraction or a classification
	// change: the store then serialises it against every other batch of
	// the generation (both read or write state that other batches would
	// otherwise race with: the retracted set, contributions, and the
	// reclassifications of records that do not exist yet).
	Exclusive bool
}

// Changes is what one batch adds to the graph, already merged per key.
type Changes struct {
	// Entities are entity deltas, one per key, sorted by key. Endpoints of
	// relations appear here too (as states that are not Observed unless
	// the batch also observed them).
	Entities []EntityState
	// Relations are relation deltas, one per key, sorted by key. Their
	// endpoints are among Entities.
	Relations []RelationState
	// Provenance has one entry per (record key, event id), sorted by both.
	Provenance []ProvenanceRecord
	// Errors are the records of the batch that were skipped as unusable.
	Errors []RecordError
	// Offsets are the next offsets to store, per partition.
	Offsets map[TopicPartition]int64
	// Retractions are applied after everything else of the batch.
	Retractions []Retraction
	// Enrichments are the latest enrichment results of the batch, one per
	// (record key, provider), sorted by both; the store keeps the later of
	// a stored and a new one (EnrichmentResult.Later).
	Enrichments []EnrichmentResult
	// Contributions are what each event of the batch added to each record
	// (one per record key, type and event id, sorted by them), for the
	// store to keep until a retraction takes some back.
	Contributions []Contribution
	// Reclassifications are the batch's classification changes, one per
	// record and event, sorted (CompareReclassified): the store keeps every
	// change of a record and records the conflicts each new one brings
	// (NewConflicts), idempotently, in the batch's transaction.
	Reclassifications []Reclassified
}

// Contribution types.
const (
	ContributionEntity     = "entity"
	ContributionRelation   = "relation"
	ContributionEnrichment = "enrichment"
)

// Contribution is what one event (an observation or an enrichment result)
// added to one record: its delta, or for an enrichment result the view
// entry. A store keeps them so that a retraction arriving after the events
// it covers leaves the state it would have left had it arrived first: the
// merge of the contributions that remain (RecomputeEntity,
// RecomputeRelation, LatestEnrichment). Classification changes are not
// contributions: they are never retracted.
type Contribution struct {
	RecordKey string
	Type      string // ContributionEntity, ContributionRelation or ContributionEnrichment
	EventID   uuid.UUID
	BatchID   string // the event's batch
	Source    string // the event's provenance source

	Entity     EntityState      // for ContributionEntity
	Relation   RelationState    // for ContributionRelation
	Enrichment EnrichmentResult // for ContributionEnrichment
}

func compareContributions(a, b Contribution) int {
	if c := strings.Compare(a.RecordKey, b.RecordKey); c != 0 {
		return c
	}
	if c := strings.Compare(a.Type, b.Type); c != 0 {
		return c
	}
	return bytes.Compare(a.EventID[:], b.EventID[:])
}

// RecomputeEntity is the state of an entity after a retraction: the merge
// of its remaining contributions, with the stored reclassification
// (classification changes are never retracted). ok is false when no
// contribution remains: the record is gone (its reclassification, if any,
// waits for the record to appear again).
func RecomputeEntity(key string, rc Reclassification, remaining []EntityState) (s EntityState, ok bool) {
	if len(remaining) == 0 {
		return EntityState{}, false
	}
	s = EntityState{Key: key, Reclassification: rc, ClassifyOnly: true}
	for _, c := range remaining {
		s = MergeEntity(s, c)
	}
	return s, true
}

// RecomputeRelation is RecomputeEntity for a relation.
func RecomputeRelation(key string, rc Reclassification, remaining []RelationState) (r RelationState, ok bool) {
	if len(remaining) == 0 {
		return RelationState{}, false
	}
	r = RelationState{Key: key, Reclassification: rc, ClassifyOnly: true}
	for _, c := range remaining {
		r = MergeRelation(r, c)
	}
	return r, true
}

// LatestEnrichment is the enrichment view entry of one (record, provider)
// after a retraction: the latest of the remaining results (Later).
func LatestEnrichment(remaining []EnrichmentResult) (EnrichmentResult, bool) {
	if len(remaining) == 0 {
		return EnrichmentResult{}, false
	}
	out := remaining[0]
	for _, r := range remaining[1:] {
		if r.Later(out) {
			out = r
		}
	}
	return out, true
}

// Retraction removes what one batch or source contributed to the records
// its actor may see: those at or below Clearance, the retracting actor's
// clearance. Records above it keep everything, the batch's or source's
// contributions included (ReachesRecord). Of its events the projector has
// not applied yet, it covers those whose own classification it reaches
// (ReachesEvent), wherever it lands in the log.
type Retraction struct {
	Scope string // batch or source
	ID    string
	// Clearance is the retracting actor's clearance; empty (a retraction
	// written before they were recorded) reaches every level.
	Clearance string
}

// ReachAll is the reach of a retraction without a clearance: every level,
// unknown ones included.
const ReachAll = math.MaxInt32

// Reach is the highest classification rank r reaches (ClassificationRank):
// ReachAll without a clearance, the clearance's rank, or -1 (nothing) for
// a clearance that names no configured level.
func (r Retraction) Reach() int {
	if r.Clearance == "" {
		return ReachAll
	}
	if rank := ClassificationRank(r.Clearance); rank < len(currentLevels()) {
		return rank
	}
	return -1
}

// ReachesEvent reports whether a retraction of reach covers an event of the
// given classification (the event's own, from its envelope).
func ReachesEvent(reach int, classification string) bool {
	return ClassificationRank(classification) <= reach
}

// ReachesRecord reports whether a retraction of reach may take back what
// its batch or source contributed to a record of the given effective
// classification. A vertex known only as an endpoint has none (endpoint
// is true): it is reached, but each event's contribution to an endpoint
// stays as long as the same event's contribution to its relation does
// (the edge keeps its ends).
func ReachesRecord(reach int, classification string, endpoint bool) bool {
	return endpoint || ClassificationRank(classification) <= reach
}

// Covers reports whether r retracts an event of the given batch and
// provenance source.
func (r Retraction) Covers(batchID, source string) bool {
	if r.Scope == "batch" {
		return batchID == r.ID
	}
	return r.Scope == "source" && source == r.ID
}

// Retracted is what has been retracted so far, with the widest reach of
// the retractions of each batch and source (Retraction.Reach): events of
// these batches and sources that reach covers (ReachesEvent) are ignored.
type Retracted struct {
	Batches map[string]int
	Sources map[string]int
}

// Add records r, keeping the widest reach of each batch or source.
func (rs *Retracted) Add(r Retraction) {
	m := &rs.Sources
	if r.Scope == "batch" {
		m = &rs.Batches
	}
	if *m == nil {
		*m = map[string]int{}
	}
	if cur, ok := (*m)[r.ID]; !ok || r.Reach() > cur {
		(*m)[r.ID] = r.Reach()
	}
}

// Ignores reports whether an event of the batch, provenance source and
// classification is covered by what has been retracted.
func (rs Retracted) Ignores(batchID, source, classification string) bool {
	if reach, ok := rs.Batches[batchID]; ok && ReachesEvent(reach, classification) {
		return true
	}
	reach, ok := rs.Sources[source]
	return ok && ReachesEvent(reach, classification)
}

// ProvenanceRecord says where one event about a record came from.
type ProvenanceRecord struct {
	RecordKey  string
	EventID    uuid.UUID
	EventType  string
	Provenance events.Provenance
	BatchID    string
	Actor      events.Actor
	RequestID  string
	OriginPeer string
	RecordedAt time.Time
	ObservedAt time.Time
}

// RecordError is a log record the projector skipped. Reason never contains
// values from the record.
type RecordError struct {
	TopicPartition
	Offset int64
	Reason string
}

// EntityView is an entity as the query API shows it.
type EntityView struct {
	EntityState
	// Label is the label of the vertex (fixed when the vertex was created).
	Label string
	// Provenance holds the newest entries (by event id, which is a
	// time-ordered UUIDv7), up to the store's limit.
	Provenance []ProvenanceRecord
	// OutEdges and InEdges count the edges leaving and entering the vertex
	// by edge label.
	OutEdges map[string]int64
	InEdges  map[string]int64
}

// Visibility says which classifications a reader may see. The zero value
// sees nothing (deny by default); SeeAll is for Heimdall's own use.
type Visibility struct {
	all    bool
	levels []string
}

// SeeAll sees every classification.
func SeeAll() Visibility { return Visibility{all: true} }

// ClearedFor sees the levels up to and including clearance; an unknown or
// empty clearance sees nothing.
func ClearedFor(clearance string) Visibility {
	r := ClassificationRank(clearance)
	ls := currentLevels()
	if r >= len(ls) {
		return Visibility{}
	}
	return Visibility{levels: slices.Clone(ls[:r+1])}
}

// Allows reports whether a classification may be seen. An empty or unknown
// classification is the highest level: only SeeAll sees it.
func (v Visibility) Allows(classification string) bool {
	if v.all {
		return true
	}
	return slices.Contains(v.levels, NormalizeClassification(classification))
}

// Levels lists the levels seen (nil for SeeAll; then every level is).
func (v Visibility) Levels() []string {
	if v.all {
		return nil
	}
	return append([]string{}, v.levels...)
}

// All reports whether v is SeeAll.
func (v Visibility) All() bool { return v.all }

// VertexView is one vertex in a neighbourhood or path.
type VertexView struct {
	Key            string
	Label          string
	Kind           string
	Value          string
	FirstSeen      time.Time // zero for an endpoint-only vertex
	LastSeen       time.Time
	Sources        []string
	Classification string
	Depth          int // hops from the root
}

// EdgeView is one edge in a neighbourhood or path.
type EdgeView struct {
	Key            string
	Type           string
	Source, Target string
	FirstSeen      time.Time
	LastSeen       time.Time
	Sources        []string
	Attributes     Attributes
	Classification string
}

// Neighbourhood is what lies within some hops of a vertex, as far as the
// reader may see: vertices and edges above the reader's clearance are left
// out, and nothing is reached through them.
type Neighbourhood struct {
	Root      string
	Vertices  []VertexView // the root first, then by depth and key
	Edges     []EdgeView   // by key
	Truncated bool         // the limit cut the result
}

// Limits of a neighbourhood query.
const (
	MaxNeighbourDepth = 3
	MaxNeighbourLimit = 5000
)

// NeighbourQuery selects a neighbourhood.
type NeighbourQuery struct {
	Depth  int      // 1..MaxNeighbourDepth hops
	Labels []string // edge labels (relation types) to follow; empty: all
	Limit  int      // most vertices returned besides the root (1..MaxNeighbourLimit)
}

// Match is one look-alike search result.
type Match struct {
	Vertex     VertexView
	Similarity float64 // cosine similarity; 1 for the same shape after folding
}

// CorrelationQuery selects entities by who saw them.
type CorrelationQuery struct {
	MinSources int      // seen by at least this many distinct sources (0: no bound)
	Sources    []string // seen by every one of these sources
	Batches    []string // seen in every one of these batches
	Kind       string   // only this kind ("" for all)
	After      string   // key to continue after (pagination)
	Limit      int
}

// CoOccurring is an entity observed near another in time.
type CoOccurring struct {
	Vertex VertexView
	Count  int64 // its observations within the window of one of the root's
}
