package kafka

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Metric names of the consumer loops (GroupConsumer), for dashboards and
// tests.
const (
	MetricConsumerLag           = "heimdall_consumer_lag_records"
	MetricConsumerRecords       = "heimdall_consumer_records_total"
	MetricConsumerBatches       = "heimdall_consumer_batches_total"
	MetricConsumerBatchDuration = "heimdall_consumer_batch_duration_seconds"
	MetricConsumerRestarts      = "heimdall_consumer_restarts_total"
)

const (
	// DefaultLagInterval is how often a consumer group's end offsets are
	// listed to keep its lag current while no records arrive or its handler
	// is stuck.
	DefaultLagInterval = 5 * time.Second
	// orphanTTL is how long the lag of partitions a restarting member held
	// is still reported (and kept growing with the log) before it is
	// dropped: above the restart backoff's cap plus a group join, so a
	// member failing in a loop keeps its series, while partitions another
	// process took over stop being reported here.
	orphanTTL = 2 * time.Minute
)

// consumerMetrics are the collectors of every GroupConsumer using one
// registry.
type consumerMetrics struct {
	lag      *prometheus.GaugeVec
	records  *prometheus.CounterVec
	batches  *prometheus.CounterVec
	duration *prometheus.HistogramVec
	restarts *prometheus.CounterVec
}

// newConsumerMetrics registers the consumer metrics with reg, or takes the
// collectors an earlier GroupConsumer registered there.
func newConsumerMetrics(reg prometheus.Registerer) (*consumerMetrics, error) {
	gt := []string{"group", "topic"}
	m := &consumerMetrics{
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: MetricConsumerLag,
			Help: "Records of a partition the consumer group has not handled yet: the partition's end offset (high watermark) minus the handler's next offset."},
			[]string{"group", "topic", "partition"}),
		records: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricConsumerRecords,
			Help: "Records the consumer group's handler applied, by group and topic."}, gt),
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricConsumerBatches,
			Help: "Batches the consumer group's handler applied, by group and topic."}, gt),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: MetricConsumerBatchDuration,
			Help:    "Time the consumer group's handler took per batch, failed attempts included, by group and topic.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10)}, gt),
		restarts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricConsumerRestarts,
			Help: "Consumer restarts after a fetch or handler error, by group and topic."}, gt),
	}
	var err error
	registerShared(reg, &m.lag, &err)
	registerShared(reg, &m.records, &err)
	registerShared(reg, &m.batches, &err)
	registerShared(reg, &m.duration, &err)
	registerShared(reg, &m.restarts, &err)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// registerShared registers *c with reg, or takes the collector reg already
// has under the same description. The first problem ends up in *errp.
func registerShared[C prometheus.Collector](reg prometheus.Registerer, c *C, errp *error) {
	if *errp != nil {
		return
	}
	err := reg.Register(*c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			*c = existing
			return
		}
	}
	*errp = err
}

// groupMetrics are the metrics of one GroupConsumer (one member of its
// group in this process). A nil *groupMetrics records nothing.
type groupMetrics struct {
	records  prometheus.Counter
	batches  prometheus.Counter
	duration prometheus.Observer
	restarts prometheus.Counter
}

func (m *consumerMetrics) forGroup(group, topic string) *groupMetrics {
	return &groupMetrics{
		records:  m.records.WithLabelValues(group, topic),
		batches:  m.batches.WithLabelValues(group, topic),
		duration: m.duration.WithLabelValues(group, topic),
		restarts: m.restarts.WithLabelValues(group, topic),
	}
}

func (gm *groupMetrics) handled(records int, took time.Duration, err error) {
	if gm == nil {
		return
	}
	gm.duration.Observe(took.Seconds())
	if err == nil {
		gm.batches.Inc()
		gm.records.Add(float64(records))
	}
}

func (gm *groupMetrics) restarted() {
	if gm != nil {
		gm.restarts.Inc()
	}
}

// ---------------------------------------------------------------------------
// Lag
// ---------------------------------------------------------------------------

// lagKey names the lag table of one group and topic in one registry (the
// registered gauge stands for the registry).
type lagKey struct {
	gauge        *prometheus.GaugeVec
	group, topic string
}

var (
	lagTablesMu sync.Mutex
	lagTables   = map[lagKey]*lagTable{}
)

// lagTable tracks the lag of the partitions that the members of one group
// in this process hold. Each member records the partitions it is assigned
// (with the handler's stored offsets), the offsets after the batches it
// handles and the high watermarks its fetches see; one goroutine per table
// lists the end offsets every interval, so the lag keeps growing while a
// handler is stuck or its member restarts. Only the handler's own offsets
// are used, never Kafka's committed ones.
type lagTable struct {
	key      lagKey
	interval time.Duration
	log      *slog.Logger

	mu    sync.Mutex
	users int
	stop  context.CancelFunc
	done  chan struct{}
	kick  chan struct{}
	parts map[int32]*partitionLag
}

func newLagTable(key lagKey, interval time.Duration, log *slog.Logger) *lagTable {
	return &lagTable{key: key, interval: interval, log: log, parts: map[int32]*partitionLag{}, kick: make(chan struct{}, 1)}
}

// partitionLag is what is known of one partition. Offsets are -1 while
// unknown.
type partitionLag struct {
	owner    *lagMember
	next     int64 // the handler's next offset; -1: none stored, the member reads from the log start
	start    int64 // log start offset (only needed while next is -1)
	end      int64 // end offset (high watermark)
	orphaned time.Time
}

// lagMember is one GroupConsumer's share of a lag table; it lives as long
// as the GroupConsumer's Run.
type lagMember struct {
	t       *lagTable
	closing bool // guarded by t.mu: revocations while the client closes keep the partitions (orphans)
}

// joinLagTable adds a member to the table of gauge/group/topic, starting the
// table's refresher for the first one.
func joinLagTable(gauge *prometheus.GaugeVec, cfg Config, group, topic string, interval time.Duration, log *slog.Logger) *lagMember {
	if interval <= 0 {
		interval = DefaultLagInterval
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	key := lagKey{gauge: gauge, group: group, topic: topic}
	lagTablesMu.Lock()
	defer lagTablesMu.Unlock()
	t := lagTables[key]
	if t == nil {
		t = newLagTable(key, interval, log)
		lagTables[key] = t
	}
	t.mu.Lock()
	t.users++
	if t.users == 1 {
		ctx, cancel := context.WithCancel(context.Background())
		t.stop, t.done = cancel, make(chan struct{})
		go t.refresh(ctx, cfg, t.done)
	}
	t.mu.Unlock()
	return &lagMember{t: t}
}

// leave drops the member's partitions and, with the last member, stops the
// refresher and forgets the table.
func (m *lagMember) leave() {
	t := m.t
	lagTablesMu.Lock()
	t.mu.Lock()
	for p, pl := range t.parts {
		if pl.owner == m {
			t.drop(p)
		}
	}
	t.users--
	var stop context.CancelFunc
	var done chan struct{}
	if t.users == 0 {
		stop, done = t.stop, t.done
		delete(lagTables, t.key)
	}
	t.mu.Unlock()
	lagTablesMu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
}

// assigned records partitions the member now holds, with the handler's
// next offsets (a partition missing from next is read from the log start).
func (m *lagMember) assigned(parts []int32, next map[int32]int64) {
	if m == nil {
		return
	}
	t := m.t
	t.mu.Lock()
	for _, p := range parts {
		pl := t.parts[p]
		if pl == nil {
			pl = &partitionLag{start: -1, end: -1}
			t.parts[p] = pl
		}
		pl.owner, pl.orphaned = m, time.Time{}
		pl.next = -1
		if n, ok := next[p]; ok {
			pl.next = n
		}
		t.publish(p, pl)
	}
	t.mu.Unlock()
	select { // list the end offsets now rather than at the next tick
	case t.kick <- struct{}{}:
	default:
	}
}

// revoked forgets partitions the member no longer holds (another member
// reports them), unless the member's client is closing for a restart.
func (m *lagMember) revoked(parts []int32) {
	if m == nil {
		return
	}
	t := m.t
	t.mu.Lock()
	defer t.mu.Unlock()
	if m.closing {
		return
	}
	for _, p := range parts {
		if pl := t.parts[p]; pl != nil && pl.owner == m {
			t.drop(p)
		}
	}
}

// setClosing marks the member's client as closing (true) for a restart, so
// its partitions stay reported, as orphans, until it or another member is
// assigned them again or orphanTTL passes; false when a new client starts.
func (m *lagMember) setClosing(closing bool) {
	if m == nil {
		return
	}
	t := m.t
	t.mu.Lock()
	defer t.mu.Unlock()
	m.closing = closing
	if !closing {
		return
	}
	now := time.Now()
	for _, pl := range t.parts {
		if pl.owner == m && pl.orphaned.IsZero() {
			pl.orphaned = now
		}
	}
}

// fetched records the high watermarks (and log start offsets) fetches saw.
func (m *lagMember) fetched(fetches kgo.Fetches) {
	if m == nil {
		return
	}
	t := m.t
	t.mu.Lock()
	defer t.mu.Unlock()
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		if fp.Topic != t.key.topic || fp.Err != nil {
			return
		}
		if pl := t.parts[fp.Partition]; pl != nil && pl.owner == m {
			pl.end = max(pl.end, fp.HighWatermark)
			if fp.LogStartOffset >= 0 {
				pl.start = fp.LogStartOffset
			}
		}
	})
}

// handled records the handler's next offsets after an applied batch.
func (m *lagMember) handled(recs []*kgo.Record) {
	if m == nil {
		return
	}
	t := m.t
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, r := range recs {
		if r.Topic != t.key.topic {
			continue
		}
		if pl := t.parts[r.Partition]; pl != nil && pl.owner == m {
			pl.next = max(pl.next, r.Offset+1)
			pl.end = max(pl.end, pl.next)
		}
	}
	for p, pl := range t.parts {
		if pl.owner == m {
			t.publish(p, pl)
		}
	}
}

// drop forgets a partition and its series; t.mu is held.
func (t *lagTable) drop(p int32) {
	delete(t.parts, p)
	t.key.gauge.DeleteLabelValues(t.key.group, t.key.topic, strconv.Itoa(int(p)))
}

// publish sets a partition's lag once it is known; t.mu is held.
func (t *lagTable) publish(p int32, pl *partitionLag) {
	from := pl.next
	if from < 0 {
		from = pl.start
	}
	if pl.end < 0 || from < 0 {
		return
	}
	t.key.gauge.WithLabelValues(t.key.group, t.key.topic, strconv.Itoa(int(p))).Set(float64(max(pl.end-from, 0)))
}

// refresh lists the topic's end offsets every interval (and when a member
// is assigned partitions) until ctx is done.
func (t *lagTable) refresh(ctx context.Context, cfg Config, done chan struct{}) {
	defer close(done)
	cfg.Logger = nil // the members' clients log; list failures are logged below, once per streak
	cl, err := NewClient(cfg)
	if err != nil {
		t.log.Warn("consumer lag: no kafka client", "group", t.key.group, "topic", t.key.topic, "err", err)
		return
	}
	defer cl.Close()
	tick := time.NewTicker(t.interval)
	defer tick.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-t.kick:
		}
		lctx, cancel := context.WithTimeout(ctx, max(t.interval, 10*time.Second))
		err := t.refreshOnce(lctx, cl)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil && !failing {
			t.log.Warn("consumer lag: listing offsets failed", "group", t.key.group, "topic", t.key.topic, "err", err)
		}
		failing = err != nil
	}
}

func (t *lagTable) refreshOnce(ctx context.Context, cl *kgo.Client) error {
	t.mu.Lock()
	needStart := false
	for _, pl := range t.parts {
		needStart = needStart || pl.next < 0
	}
	t.mu.Unlock()
	ends, err := EndOffsets(ctx, cl, t.key.topic)
	if err != nil && len(ends) == 0 {
		return err
	}
	var starts map[int32]int64
	if needStart {
		listed, serr := kadm.NewClient(cl).ListStartOffsets(ctx, t.key.topic)
		if serr == nil {
			starts = map[int32]int64{}
			listed.Each(func(o kadm.ListedOffset) {
				if o.Err == nil {
					starts[o.Partition] = o.Offset
				}
			})
		}
		err = errors.Join(err, serr)
	}
	t.apply(ends, starts, time.Now())
	return err
}

// apply takes listed end (and start) offsets, publishes the lag of every
// partition and drops orphans older than orphanTTL.
func (t *lagTable) apply(ends, starts map[int32]int64, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for p, pl := range t.parts {
		if !pl.orphaned.IsZero() && now.Sub(pl.orphaned) > orphanTTL {
			t.drop(p)
			continue
		}
		if e, ok := ends[p]; ok {
			pl.end = max(pl.end, e)
		}
		if s, ok := starts[p]; ok {
			pl.start = s
		}
		t.publish(p, pl)
	}
}
