package kafka

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/internal/tlsconf"
)

// lagValues returns the lag series of group as partition -> value.
func lagValues(t testing.TB, g prometheus.Gatherer, group string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, m := range family(t, g, MetricConsumerLag) {
		l := labels(m)
		if l["group"] == group {
			out[l["partition"]] = m.GetGauge().GetValue()
		}
	}
	return out
}

func family(t testing.TB, g prometheus.Gatherer, name string) []*dto.Metric {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()
		}
	}
	return nil
}

func labels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, lp := range m.GetLabel() {
		out[lp.GetName()] = lp.GetValue()
	}
	return out
}

// counter returns the value of a group/topic counter (0 if absent).
func counter(t testing.TB, g prometheus.Gatherer, name, group string) float64 {
	t.Helper()
	for _, m := range family(t, g, name) {
		if labels(m)["group"] == group {
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// TestConsumerMetricsLint: the consumer metrics pass the Prometheus linter
// (the checks of `promtool check metrics`), and consumers sharing a
// registry share the collectors instead of failing to register.
func TestConsumerMetricsLint(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, err := newConsumerMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := newConsumerMetrics(reg)
	if err != nil {
		t.Fatalf("second consumer on the same registry: %v", err)
	}
	if a.lag != b.lag || a.records != b.records || a.duration != b.duration {
		t.Fatal("consumers on one registry do not share the collectors")
	}
	gm := a.forGroup("g", "t")
	gm.handled(3, 20*time.Millisecond, nil)
	gm.handled(2, time.Millisecond, errors.New("boom"))
	gm.restarted()
	a.lag.WithLabelValues("g", "t", "0").Set(1)
	lint(t, reg)
	names := map[string]bool{}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	for _, n := range []string{MetricConsumerLag, MetricConsumerRecords, MetricConsumerBatches, MetricConsumerBatchDuration, MetricConsumerRestarts} {
		if !names[n] {
			t.Errorf("%s not exported", n)
		}
	}
	if got := counter(t, reg, MetricConsumerRecords, "g"); got != 3 {
		t.Errorf("records_total = %v, want 3 (failed batches do not count)", got)
	}
	if got := counter(t, reg, MetricConsumerBatches, "g"); got != 1 {
		t.Errorf("batches_total = %v, want 1", got)
	}
	if got := counter(t, reg, MetricConsumerRestarts, "g"); got != 1 {
		t.Errorf("restarts_total = %v, want 1", got)
	}
	for _, m := range family(t, reg, MetricConsumerBatchDuration) {
		if c := m.GetHistogram().GetSampleCount(); c != 2 {
			t.Errorf("batch duration samples = %d, want 2 (failed attempts included)", c)
		}
	}
}

// lint runs the Prometheus linter (the checks of `promtool check metrics`)
// on what g gathers.
func lint(t *testing.T, g prometheus.Gatherer) {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

func rec(p int32, off int64) *kgo.Record { return &kgo.Record{Topic: "t", Partition: p, Offset: off} }

// TestLagBookkeeping: the lag of each partition is the end offset minus the
// handler's next offset; it follows assignments between members, keeps
// growing while a member restarts, and disappears when nobody here holds
// the partition any more.
func TestLagBookkeeping(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := newConsumerMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	tb := newLagTable(lagKey{gauge: m.lag, group: "g", topic: "t"}, time.Second, slog.New(slog.DiscardHandler))
	a, b := &lagMember{t: tb}, &lagMember{t: tb}
	want := func(step string, w map[string]float64) {
		t.Helper()
		got := lagValues(t, reg, "g")
		if fmt.Sprint(got) != fmt.Sprint(w) {
			t.Fatalf("%s: lag %v, want %v", step, got, w)
		}
	}
	now := time.Now()

	// Partition 0 has a stored offset (5), partition 1 none: read from the start.
	a.assigned([]int32{0, 1}, map[int32]int64{0: 5})
	want("assigned, no end offsets yet", map[string]float64{})
	tb.apply(map[int32]int64{0: 10, 1: 4, 2: 7}, map[int32]int64{1: 0}, now)
	want("end offsets listed", map[string]float64{"0": 5, "1": 4})

	a.handled([]*kgo.Record{rec(0, 5), rec(0, 6), rec(0, 7), rec(0, 8), rec(0, 9), rec(1, 0)})
	want("handled", map[string]float64{"0": 0, "1": 3})

	// A fetch reports a higher watermark before the records are handled.
	var f kgo.Fetches
	f = append(f, kgo.Fetch{Topics: []kgo.FetchTopic{{Topic: "t", Partitions: []kgo.FetchPartition{{Partition: 0, HighWatermark: 12, LogStartOffset: 0}}}}})
	a.fetched(f)
	a.handled([]*kgo.Record{rec(0, 10)})
	want("fetched high watermark", map[string]float64{"0": 1, "1": 3})

	// Partition 1 moves to b (cooperative rebalance: revoked, then assigned).
	a.revoked([]int32{1})
	want("revoked from a", map[string]float64{"0": 1})
	b.assigned([]int32{1}, map[int32]int64{1: 1})
	tb.apply(map[int32]int64{0: 12, 1: 4}, nil, now)
	want("assigned to b", map[string]float64{"0": 1, "1": 3})

	// a's client closes for a restart: its partitions stay reported, and
	// their lag grows with the log.
	a.setClosing(true)
	a.revoked([]int32{0})
	tb.apply(map[int32]int64{0: 20, 1: 4}, nil, now)
	want("a restarting", map[string]float64{"0": 9, "1": 3})
	// a comes back with partition 0.
	a.setClosing(false)
	a.assigned([]int32{0}, map[int32]int64{0: 11})
	tb.apply(map[int32]int64{0: 20, 1: 4}, nil, now.Add(time.Hour))
	want("a back", map[string]float64{"0": 9, "1": 3})

	// b restarts and never gets partition 1 back (another process has it):
	// its orphan is dropped after orphanTTL.
	b.setClosing(true)
	b.revoked([]int32{1})
	tb.apply(map[int32]int64{0: 20, 1: 4}, nil, time.Now().Add(orphanTTL/2))
	want("b orphan kept", map[string]float64{"0": 9, "1": 3})
	tb.apply(map[int32]int64{0: 20, 1: 4}, nil, time.Now().Add(2*orphanTTL))
	want("b orphan expired", map[string]float64{"0": 9})

	// a stops: its series go.
	a.leave()
	want("a left", map[string]float64{})
}

// ---------------------------------------------------------------------------
// Against the development stack's Kafka
// ---------------------------------------------------------------------------

func stackConfig(t *testing.T) Config {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test against the development stack's Kafka (skipped with -short)")
	}
	// The stack's env file (.stack/env) as make test sources it, read here
	// rather than through devstack, which imports this package.
	env := map[string]string{}
	for _, k := range []string{"HEIMDALL_KAFKA_BROKERS", "HEIMDALL_CA_FILE", "HEIMDALL_KAFKA_USER", "HEIMDALL_KAFKA_PASSWORD"} {
		if env[k] = os.Getenv(k); env[k] == "" {
			t.Fatalf("%s unset: run `make stack-up` and source .stack/env", k)
		}
	}
	tlsCfg, err := tlsconf.Client(env["HEIMDALL_CA_FILE"])
	if err != nil {
		t.Fatal(err)
	}
	user, pw := env["HEIMDALL_KAFKA_USER"], env["HEIMDALL_KAFKA_PASSWORD"]
	return Config{Brokers: strings.Split(env["HEIMDALL_KAFKA_BROKERS"], ","), TLS: tlsCfg, ClientID: "heimdall-kafka-test",
		SASL: &SASL{Mechanism: ScramSHA512, User: user, Password: pw}}
}

// memHandler keeps offsets in memory, applying batches atomically; it fails
// while failing is set.
type memHandler struct {
	mu      sync.Mutex
	next    map[int32]int64
	applied int
	failing atomic.Bool
	fails   atomic.Int64
}

func (h *memHandler) Offsets(_ context.Context, _ string, parts []int32) (map[int32]int64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[int32]int64{}
	for _, p := range parts {
		if n, ok := h.next[p]; ok {
			out[p] = n
		}
	}
	return out, nil
}

func (h *memHandler) Handle(_ context.Context, recs []events.LogRecord) error {
	if h.failing.Load() {
		h.fails.Add(1)
		return errors.New("handler failing on purpose")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range recs {
		if r.Offset < h.next[r.Partition] {
			return fmt.Errorf("record %d/%d below the stored offset %d: applied twice", r.Partition, r.Offset, h.next[r.Partition])
		}
		h.next[r.Partition] = r.Offset + 1
		h.applied++
	}
	return nil
}

// TestGroupConsumerMetricsAgainstKafka: two members of one group feed a
// handler from a 3-partition topic; the lag of every partition is exported
// once, falls to 0 when they caught up, shows the backlog while the
// handler fails (the members restarting), and goes when they stop; records
// and batches count what the handler applied, restarts count the failures.
func TestGroupConsumerMetricsAgainstKafka(t *testing.T) {
	cfg := stackConfig(t)
	suffix := make([]byte, 5)
	_, _ = rand.Read(suffix)
	topic := "heimdall.test.consumer-metrics." + hex.EncodeToString(suffix)
	group := "heimdall.test." + topic
	admin, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := EnsureTopics(ctx, admin, TopicSpec{Name: topic, Partitions: 3, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		dctx, dcancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer dcancel()
		adm := kadm.NewClient(admin)
		_, _ = adm.DeleteTopics(dctx, topic)
		_, _ = adm.DeleteGroups(dctx, group)
	})
	produce := func(n int) {
		t.Helper()
		p, err := NewProducer(cfg, ProducerOptions{Compression: "none"})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close(ctx)
		errs := make(chan error, n)
		for i := range n {
			p.Append(ctx, topic, fmt.Appendf(nil, "key-%d-%d", time.Now().UnixNano(), i), []byte("v"), nil, func(err error) { errs <- err })
		}
		for range n {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
	}

	reg := prometheus.NewRegistry()
	h := &memHandler{next: map[int32]int64{}}
	// The handler fails its first batch: a restart right away.
	h.failing.Store(true)
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i := range 2 {
		c := &GroupConsumer{Config: cfg, Group: group, Topic: topic, BatchSize: 7, Handler: h,
			Logger: slog.New(slog.DiscardHandler).With("worker", i), Registerer: reg, LagInterval: 300 * time.Millisecond}
		wg.Go(func() {
			if err := c.Run(runCtx); err != nil {
				t.Errorf("run: %v", err)
			}
		})
	}
	stopped := false
	defer func() {
		if !stopped {
			stop()
			wg.Wait()
		}
	}()

	waitFor := func(what string, within time.Duration, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(within)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within %v; lag %v, records %v, restarts %v, handler fails %d", what, within,
					lagValues(t, reg, group), counter(t, reg, MetricConsumerRecords, group),
					counter(t, reg, MetricConsumerRestarts, group), h.fails.Load())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	sum := func(v map[string]float64) (s float64) {
		for _, x := range v {
			s += x
		}
		return s
	}
	allPartitions := func(v map[string]float64) bool {
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return strings.Join(keys, ",") == "0,1,2"
	}

	// The lag series exist once the members are assigned, at 0 on an empty topic.
	waitFor("lag series of 3 partitions", 60*time.Second, func() bool {
		v := lagValues(t, reg, group)
		return allPartitions(v) && sum(v) == 0
	})

	produce(40)
	waitFor("a failed batch and a restart", 60*time.Second, func() bool {
		return h.fails.Load() > 0 && counter(t, reg, MetricConsumerRestarts, group) >= 1
	})
	waitFor("the backlog of 40 records in the lag while the handler fails", 60*time.Second, func() bool {
		v := lagValues(t, reg, group)
		return allPartitions(v) && sum(v) == 40
	})
	h.failing.Store(false)
	waitFor("lag 0 and 40 records applied", 90*time.Second, func() bool {
		v := lagValues(t, reg, group)
		return allPartitions(v) && sum(v) == 0 && counter(t, reg, MetricConsumerRecords, group) == 40
	})
	if b := counter(t, reg, MetricConsumerBatches, group); b < 40/7 {
		t.Errorf("batches_total = %v, want at least %d (batches of at most 7)", b, 40/7)
	}

	// More records while the members run: the lag returns to 0.
	produce(15)
	waitFor("lag 0 and 55 records applied", 60*time.Second, func() bool {
		v := lagValues(t, reg, group)
		return allPartitions(v) && sum(v) == 0 && counter(t, reg, MetricConsumerRecords, group) == 55
	})
	h.mu.Lock()
	applied := h.applied
	h.mu.Unlock()
	if applied != 55 {
		t.Errorf("handler applied %d records, want 55", applied)
	}

	stop()
	wg.Wait()
	stopped = true
	if v := lagValues(t, reg, group); len(v) != 0 {
		t.Errorf("lag series after the consumers stopped: %v", v)
	}
	lint(t, reg)
}
