package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/heimdallhub/heimdall/events"
)

// Projector applies events from the log to the graph read model. It
// implements the handler interface of the Kafka consumer adapter (Offsets and
// Handle) and is safe for concurrent use by handlers of different partitions.
//
// A live projector (New without WithGeneration) writes to the active
// generation and returns ErrGenerationChanged once another generation has
// been activated; a rebuild projector (WithGeneration) writes to one given
// generation.
type Projector struct {
	store  Store
	codec  *events.Codec
	log    *slog.Logger
	fixed  *Generation
	counts counters
	tracer trace.Tracer

	mu      sync.Mutex
	gen     Generation
	haveGen bool
	loaded  map[TopicPartition]int64 // partition -> generation its offsets were loaded from
}

// Option configures a Projector.
type Option func(*Projector)

// WithGeneration makes the projector a rebuild projector writing to gen (a
// generation being built) instead of following the active generation.
func WithGeneration(gen Generation) Option {
	return func(p *Projector) { g := gen; p.fixed = &g }
}

// New returns a projector writing through store. A nil logger discards logs.
func New(store Store, codec *events.Codec, logger *slog.Logger, opts ...Option) (*Projector, error) {
	if store == nil {
		return nil, errors.New("creating graph projector: no store")
	}
	if codec == nil {
		return nil, errors.New("creating graph projector: no codec")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	p := &Projector{store: store, codec: codec, log: logger, loaded: map[TopicPartition]int64{}}
	for _, o := range opts {
		o(p)
	}
	if p.fixed != nil {
		p.gen, p.haveGen = *p.fixed, true
	}
	return p, nil
}

// Generation returns the generation the projector currently writes to, and
// false if it has not resolved one yet.
func (p *Projector) Generation() (Generation, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.gen, p.haveGen
}

// Offsets returns the next offset to consume of each given partition of
// topic, from the generation the projector writes to (a live projector
// resolves the active generation again on every call). Partitions left out
// have no stored offset: consume them from the start of the log.
func (p *Projector) Offsets(ctx context.Context, topic string, partitions []int32) (map[int32]int64, error) {
	gen := Generation{}
	if p.fixed != nil {
		gen = *p.fixed
	} else {
		g, err := p.store.ActiveGeneration(ctx)
		if err != nil {
			return nil, fmt.Errorf("loading offsets of %s: %w", topic, err)
		}
		gen = g
	}
	offsets, err := p.store.Offsets(ctx, gen, topic, partitions)
	if err != nil {
		return nil, fmt.Errorf("loading offsets of %s from %s: %w", topic, gen.Graph, err)
	}
	p.mu.Lock()
	if !p.haveGen || p.gen.ID != gen.ID {
		p.log.Info("graph projector follows generation", "generation", gen.ID, "graph", gen.Graph)
	}
	p.gen, p.haveGen = gen, true
	for _, part := range partitions {
		p.loaded[TopicPartition{Topic: topic, Partition: part}] = gen.ID
	}
	p.mu.Unlock()
	return offsets, nil
}

// Handle applies a batch of log records in one transaction together with the
// next offset of every partition in it. Records below a partition's stored
// offset were applied before and are skipped; unknown event types and
// ingest.rejected events are counted and skipped; records that cannot be
// decoded or stored are counted, recorded in the store's error table and
// skipped, so they never block a partition.
func (p *Projector) Handle(ctx context.Context, records []events.LogRecord) error {
	if len(records) == 0 {
		return nil
	}
	gen, err := p.target(ctx, records)
	if err != nil {
		return err
	}
	end := traceSpans(ctx, p.tracer, "graph.project", records, attribute.String("heimdall.graph", gen.Graph))
	err = p.handle(ctx, gen, records)
	end(err)
	return err
}

func (p *Projector) handle(ctx context.Context, gen Generation, records []events.LogRecord) error {
	ds := p.decodeAll(records)
	vl, el := labelsOf(ds)
	if err := p.store.EnsureLabels(ctx, gen, vl, el); err != nil {
		return p.fail(gen, fmt.Errorf("creating graph labels: %w", err))
	}
	parts := partitionsOf(ds)
	var st planStats
	err := p.store.Apply(ctx, ApplyRequest{
		Generation:    gen,
		RequireActive: p.fixed == nil,
		Partitions:    parts,
		Plan: func(next map[TopicPartition]int64, retracted Retracted) (*Changes, error) {
			var ch *Changes
			ch, st = plan(ds, next, retracted)
			return ch, nil
		},
		Exclusive: exclusive(ds),
	})
	if err != nil {
		return p.fail(gen, fmt.Errorf("applying batch of %d records: %w", len(records), err))
	}
	p.counts.add(st)
	for _, d := range st.warnings {
		p.log.Warn("graph projector skipped record", "topic", d.tp.Topic, "partition", d.tp.Partition,
			"offset", d.offset, "key", d.key, "reason", d.reason)
	}
	return nil
}

// decodeAll decodes records, in parallel for large batches: decoding is
// pure CPU work done while the database waits.
func (p *Projector) decodeAll(records []events.LogRecord) []decoded {
	ds := make([]decoded, len(records))
	workers := min(runtime.GOMAXPROCS(0), len(records)/256+1)
	var wg sync.WaitGroup
	chunk := (len(records) + workers - 1) / workers
	for start := 0; start < len(records); start += chunk {
		end := min(start+chunk, len(records))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := start; i < end; i++ {
				ds[i] = decodeRecord(p.codec, records[i])
			}
		}()
	}
	wg.Wait()
	return ds
}

// target returns the generation to write the batch to, and
// ErrGenerationChanged if the offsets of one of its partitions were loaded
// from another generation.
func (p *Projector) target(ctx context.Context, records []events.LogRecord) (Generation, error) {
	p.mu.Lock()
	have := p.haveGen
	p.mu.Unlock()
	if !have {
		g, err := p.store.ActiveGeneration(ctx)
		if err != nil {
			return Generation{}, fmt.Errorf("resolving the active graph generation: %w", err)
		}
		p.mu.Lock()
		if !p.haveGen {
			p.gen, p.haveGen = g, true
		}
		p.mu.Unlock()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range records {
		tp := TopicPartition{Topic: r.Topic, Partition: r.Partition}
		id, ok := p.loaded[tp]
		if !ok {
			p.loaded[tp] = p.gen.ID
			continue
		}
		if id != p.gen.ID {
			return Generation{}, fmt.Errorf("partition %s/%d was loaded from generation %d, now %d: %w",
				tp.Topic, tp.Partition, id, p.gen.ID, ErrGenerationChanged)
		}
	}
	return p.gen, nil
}

// fail forgets the resolved generation of a live projector when the store
// says it changed, so the next Offsets or Handle resolves it again.
func (p *Projector) fail(gen Generation, err error) error {
	if errors.Is(err, ErrGenerationChanged) && p.fixed == nil {
		p.mu.Lock()
		if p.gen.ID == gen.ID {
			p.haveGen = false
		}
		p.mu.Unlock()
		p.log.Info("graph generation changed; the consumer must reload offsets", "generation", gen.ID)
	}
	return err
}

func partitionsOf(ds []decoded) []TopicPartition {
	seen := map[TopicPartition]bool{}
	var out []TopicPartition
	for _, d := range ds {
		if !seen[d.tp] {
			seen[d.tp] = true
			out = append(out, d.tp)
		}
	}
	slices.SortFunc(out, func(a, b TopicPartition) int {
		if a.Topic != b.Topic {
			if a.Topic < b.Topic {
				return -1
			}
			return 1
		}
		return int(a.Partition) - int(b.Partition)
	})
	return out
}

// Stats counts records by what the projector did with them, since it was
// created. Only committed batches count.
type Stats struct {
	EntityEvents      int64 // entity.observed events applied
	RelationEvents    int64 // relation.observed events applied
	Replayed          int64 // records below the stored offset, skipped
	Rejected          int64 // ingest.rejected events, skipped
	Unknown           int64 // event types this build does not know, skipped
	Undecodable       int64 // records that do not decode, recorded and skipped
	Invalid           int64 // events that cannot be stored, recorded and skipped
	InvalidEdgeLabels int64 // relation types that are not valid edge labels, recorded and skipped
	Empty             int64 // records without a value, recorded and skipped
	EnrichmentEvents  int64 // enrichment.recorded events applied
	Ignored           int64 // events the graph has no use for (enrichment.requested)
	CommittedBatches  int64 // batches committed
	CommittedRecords  int64 // records in committed batches
}

// Stats returns the projector's counters.
func (p *Projector) Stats() Stats { return p.counts.snapshot() }

type counters struct {
	entities, relations, replayed, rejected, unknown, undecodable, invalid, invalidLabel, empty atomic.Int64
	batches, records, enrichments, ignored                                                      atomic.Int64
}

func (c *counters) add(st planStats) {
	c.entities.Add(st.entities)
	c.relations.Add(st.relations)
	c.replayed.Add(st.replayed)
	c.rejected.Add(st.rejected)
	c.unknown.Add(st.unknown)
	c.undecodable.Add(st.undecodable)
	c.invalid.Add(st.invalid)
	c.invalidLabel.Add(st.invalidLabel)
	c.empty.Add(st.empty)
	c.enrichments.Add(st.enrichments)
	c.ignored.Add(st.ignored)
	c.batches.Add(1)
	c.records.Add(st.entities + st.relations + st.classified + st.retractions + st.retracted + st.replayed + st.rejected + st.unknown + st.undecodable + st.invalid + st.invalidLabel + st.empty + st.enrichments + st.ignored)
}

func (c *counters) snapshot() Stats {
	return Stats{
		EntityEvents: c.entities.Load(), RelationEvents: c.relations.Load(), Replayed: c.replayed.Load(),
		Rejected: c.rejected.Load(), Unknown: c.unknown.Load(), Undecodable: c.undecodable.Load(),
		Invalid: c.invalid.Load(), InvalidEdgeLabels: c.invalidLabel.Load(), Empty: c.empty.Load(),
		EnrichmentEvents: c.enrichments.Load(), Ignored: c.ignored.Load(),
		CommittedBatches: c.batches.Load(), CommittedRecords: c.records.Load(),
	}
}
