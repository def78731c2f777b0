package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/heimdallhub/heimdall/events"
)

// Handler applies consumed records and keeps its own offsets, in the same
// transaction as its effects (so Kafka's committed offsets are informational
// only).
type Handler interface {
	// Offsets returns the next offset to read of each given partition of
	// topic; a partition left out is read from the start of the log.
	Offsets(ctx context.Context, topic string, partitions []int32) (map[int32]int64, error)
	// Handle applies records (in offset order within each partition) and
	// stores the offsets after them atomically with its effects.
	Handle(ctx context.Context, records []events.LogRecord) error
}

// GroupConsumer feeds a Handler from a consumer group. A rebalance never
// splits a batch: polling blocks rebalances until the batch is handled.
type GroupConsumer struct {
	Config    Config
	Group     string // stable: renaming it changes nothing (offsets live in the handler) but shows as a new group
	Topic     string
	BatchSize int
	Handler   Handler
	Logger    *slog.Logger
	// Registerer, when set, gets the consumer metrics (heimdall_consumer_*):
	// per partition lag, records and batches applied, batch duration and
	// restarts, labelled by group and topic. Consumers may share a
	// registerer; members of one group in a process share their series.
	Registerer prometheus.Registerer
	// LagInterval is how often the lag is refreshed from the topic's end
	// offsets besides after every batch; DefaultLagInterval when zero.
	LagInterval time.Duration
}

// Run consumes until ctx is done. Any handler or fetch error restarts the
// client, which reloads offsets from the handler, after a backoff.
func (g *GroupConsumer) Run(ctx context.Context) error {
	var gm *groupMetrics
	if g.Registerer != nil {
		m, err := newConsumerMetrics(g.Registerer)
		if err != nil {
			return fmt.Errorf("consumer metrics of %s: %w", g.Group, err)
		}
		gm = m.forGroup(g.Group, g.Topic)
		member := joinLagTable(m.lag, g.Config, g.Group, g.Topic, g.LagInterval, g.Logger)
		defer member.leave()
		return g.run(ctx, gm, member)
	}
	return g.run(ctx, gm, nil)
}

func (g *GroupConsumer) run(ctx context.Context, gm *groupMetrics, lag *lagMember) error {
	backoff := 500 * time.Millisecond
	for {
		start := time.Now()
		err := g.runOnce(ctx, gm, lag)
		if ctx.Err() != nil {
			return nil
		}
		gm.restarted()
		if time.Since(start) > time.Minute {
			backoff = 500 * time.Millisecond
		}
		g.Logger.Warn("consumer restarting", "group", g.Group, "topic", g.Topic, "err", err, "backoff", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		if backoff < 30*time.Second {
			backoff *= 2
		}
	}
}

func (g *GroupConsumer) runOnce(ctx context.Context, gm *groupMetrics, lag *lagMember) error {
	lag.setClosing(false)
	cl, err := NewClient(g.Config,
		kgo.ConsumerGroup(g.Group),
		kgo.ConsumeTopics(g.Topic),
		// A crashed member's partitions move on after 10s rather than 45s.
		kgo.SessionTimeout(10*time.Second),
		kgo.HeartbeatInterval(2*time.Second),
		kgo.BlockRebalanceOnPoll(),
		kgo.DisableAutoCommit(),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.AdjustFetchOffsetsFn(func(ctx context.Context, assigned map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
			out, next, err := adjustOffsets(ctx, g.Handler, assigned)
			if err == nil {
				lag.assigned(partitionsOf(assigned, g.Topic), next[g.Topic])
			}
			return out, err
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, revoked map[string][]int32) {
			lag.revoked(revoked[g.Topic])
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
			lag.revoked(lost[g.Topic])
		}),
	)
	if err != nil {
		return err
	}
	defer func() {
		// The partitions stay reported while the client restarts.
		lag.setClosing(ctx.Err() == nil)
		closeGroupClient(cl, g.Logger)
	}()
	batch := g.BatchSize
	if batch <= 0 {
		batch = 5000
	}
	for {
		fetches := cl.PollRecords(ctx, batch)
		if fetches.IsClientClosed() || ctx.Err() != nil {
			cl.AllowRebalance()
			return ctx.Err()
		}
		var fetchErr error
		fetches.EachError(func(topic string, p int32, err error) {
			if errors.Is(err, context.Canceled) {
				return
			}
			fetchErr = errors.Join(fetchErr, fmt.Errorf("fetching %s/%d: %w", topic, p, err))
		})
		if fetchErr != nil {
			cl.AllowRebalance()
			return fetchErr
		}
		lag.fetched(fetches)
		recs := fetches.Records()
		if len(recs) > 0 {
			start := time.Now()
			err := g.Handler.Handle(ctx, convert(recs))
			gm.handled(len(recs), time.Since(start), err)
			if err != nil {
				cl.AllowRebalance()
				return fmt.Errorf("handling batch: %w", err)
			}
			lag.handled(recs)
			// Informational commit so standard lag tooling sees progress.
			cl.CommitRecords(context.WithoutCancel(ctx), recs...) //nolint:errcheck // offsets of record live in the handler's store
		}
		cl.AllowRebalance()
	}
}

// closeGroupClient leaves the group and closes the client, but never blocks
// shutdown for long: a leave racing a join in progress can wait on the
// broker, and the group notices a vanished member by its session timeout.
func closeGroupClient(cl *kgo.Client, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := cl.LeaveGroupContext(ctx); err != nil {
		log.Warn("leaving the consumer group", "err", err)
	}
	done := make(chan struct{})
	go func() { cl.CloseAllowingRebalance(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		log.Warn("kafka client close timed out; exiting without it")
	}
}

// adjustOffsets replaces the assigned partitions' offsets with the
// handler's; it also returns the handler's stored next offsets by topic.
func adjustOffsets(ctx context.Context, h Handler, assigned map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, map[string]map[int32]int64, error) {
	out := make(map[string]map[int32]kgo.Offset, len(assigned))
	next := make(map[string]map[int32]int64, len(assigned))
	for topic, parts := range assigned {
		ps := make([]int32, 0, len(parts))
		for p := range parts {
			ps = append(ps, p)
		}
		stored, err := h.Offsets(ctx, topic, ps)
		if err != nil {
			return nil, nil, fmt.Errorf("loading offsets of %s: %w", topic, err)
		}
		next[topic] = stored
		out[topic] = make(map[int32]kgo.Offset, len(parts))
		for _, p := range ps {
			if off, ok := stored[p]; ok {
				out[topic][p] = kgo.NewOffset().At(off).WithEpoch(-1)
			} else {
				out[topic][p] = kgo.NewOffset().AtStart()
			}
		}
	}
	return out, next, nil
}

// partitionsOf lists the partitions of topic in assigned.
func partitionsOf(assigned map[string]map[int32]kgo.Offset, topic string) []int32 {
	ps := make([]int32, 0, len(assigned[topic]))
	for p := range assigned[topic] {
		ps = append(ps, p)
	}
	return ps
}

// ReadRange reads topic from the handler's offsets up to the end offsets
// found when it starts, handing batches to h, and returns those end offsets.
// It is for rebuilds and replays: one process, every partition, no group.
func ReadRange(ctx context.Context, cfg Config, topic string, batch int, h Handler, progress func(done, total int64)) (map[int32]int64, error) {
	admin, err := NewClient(cfg)
	if err != nil {
		return nil, err
	}
	ends, err := EndOffsets(ctx, admin, topic)
	admin.Close()
	if err != nil {
		return nil, err
	}
	parts := make([]int32, 0, len(ends))
	for p := range ends {
		parts = append(parts, p)
	}
	start, err := h.Offsets(ctx, topic, parts)
	if err != nil {
		return nil, fmt.Errorf("loading offsets of %s: %w", topic, err)
	}
	offsets := map[int32]kgo.Offset{}
	pending := map[int32]bool{}
	var total, done int64
	for p, end := range ends {
		from := start[p]
		offsets[p] = kgo.NewOffset().At(from).WithEpoch(-1)
		if from < end {
			pending[p] = true
			total += end - from
		}
	}
	if len(pending) == 0 {
		return ends, nil
	}
	cl, err := NewClient(cfg,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
	)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	if batch <= 0 {
		batch = 5000
	}
	for len(pending) > 0 {
		fetches := cl.PollRecords(ctx, batch)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var fetchErr error
		fetches.EachError(func(t string, p int32, err error) {
			fetchErr = errors.Join(fetchErr, fmt.Errorf("fetching %s/%d: %w", t, p, err))
		})
		if fetchErr != nil {
			return nil, fetchErr
		}
		var recs []*kgo.Record
		fetches.EachRecord(func(r *kgo.Record) {
			if r.Offset < ends[r.Partition] {
				recs = append(recs, r)
			}
			if r.Offset+1 >= ends[r.Partition] {
				delete(pending, r.Partition)
			}
		})
		if len(recs) == 0 {
			continue
		}
		if err := h.Handle(ctx, convert(recs)); err != nil {
			return nil, fmt.Errorf("handling batch: %w", err)
		}
		done += int64(len(recs))
		if progress != nil {
			progress(done, total)
		}
	}
	return ends, nil
}

func convert(recs []*kgo.Record) []events.LogRecord {
	out := make([]events.LogRecord, len(recs))
	for i, r := range recs {
		var hs map[string]string
		if len(r.Headers) > 0 {
			hs = make(map[string]string, len(r.Headers))
			for _, h := range r.Headers {
				hs[h.Key] = string(h.Value)
			}
		}
		out[i] = events.LogRecord{
			Topic: r.Topic, Partition: r.Partition, Offset: r.Offset,
			Key: r.Key, Value: r.Value, Headers: hs, Timestamp: r.Timestamp,
		}
	}
	return out
}
