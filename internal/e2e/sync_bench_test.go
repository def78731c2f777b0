package e2e

import (
	"context"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/internal/config/devstack"
	"github.com/heimdallhub/heimdall/internal/kafka"
)

// BenchmarkSyncCatchUp measures peer replication with the built binary on
// the real stack: site a holds a log of about HEIMDALL_BENCH_SYNC_EVENTS
// events (default one million), then a new site b starts its sync agent and
// pulls all of it: catch-up time, events/s and MB/s between the two peers
// (TLS 1.3, token-authenticated, appended to b's Kafka with acks=all and
// claimed in b's Postgres), and the agent's peak RSS. Projection at b is
// not included (see BenchmarkPipeline for the projector's rate).
func BenchmarkSyncCatchUp(b *testing.B) {
	want := 1_000_000
	if s := os.Getenv("HEIMDALL_BENCH_SYNC_EVENTS"); s != "" {
		want, _ = strconv.Atoi(s)
	}
	for i := 0; i < b.N; i++ {
		a, c := twoPeers(b)
		a.serve("serve", map[string]string{"HEIMDALL_COMPONENTS": "api,ingest"})
		// Three events per flow record (two addresses and their relation).
		records := want / 3
		for first := 0; first < records; first += 100_000 {
			a.mustIngest(flowLines(first, min(100_000, records-first)), "source=bench-sync")
		}
		total := logSize(b, a.instance)
		bytes := valueBytes(b, a.instance)
		c.serve("serve", map[string]string{"HEIMDALL_COMPONENTS": "api"})
		b.ResetTimer()
		start := time.Now()
		agent := c.start("sync", map[string]string{"HEIMDALL_SYNC_MAX_RECORDS": "20000"}, "sync")
		deadline := start.Add(30 * time.Minute)
		for logSize(b, c.instance) < total {
			if time.Now().After(deadline) {
				b.Fatalf("b holds %d of %d events after 30 minutes", logSize(b, c.instance), total)
			}
			time.Sleep(100 * time.Millisecond)
		}
		took := time.Since(start)
		b.StopTimer()
		rss := peakRSS(agent.cmd.Process.Pid)
		b.ReportMetric(float64(total), "events")
		b.ReportMetric(took.Seconds(), "catchup-s")
		b.ReportMetric(float64(total)/took.Seconds(), "events/s")
		b.ReportMetric(float64(bytes)/took.Seconds()/1e6, "MB/s")
		b.ReportMetric(float64(rss)/(1<<20), "agent-peak-RSS-MiB")
		b.Logf("%d events (%d MB of values) replicated in %v: %.0f events/s; agent peak RSS %d MiB", total, bytes/1e6, took, float64(total)/took.Seconds(), rss>>20)
	}
}

// BenchmarkSyncLive measures replication while it happens: site b's sync
// agent follows site a from the start while a ingests
// HEIMDALL_BENCH_SYNC_LIVE_EVENTS events (default 300,000) in batches of
// 10,000 flow records. It reports the replication rate (events at b over
// the time from a's first ingest until b holds all of them), the tail lag
// (from a's last acknowledged batch until b holds everything) and the
// agent's peak RSS; then, with b caught up, the time a 100-record batch
// takes from a's acknowledgement to b's log (median and maximum of 20). Both sites share this machine's two cores with a's
// ingest, so the rate is a floor.
func BenchmarkSyncLive(b *testing.B) {
	want := 300_000
	if s := os.Getenv("HEIMDALL_BENCH_SYNC_LIVE_EVENTS"); s != "" {
		want, _ = strconv.Atoi(s)
	}
	for i := 0; i < b.N; i++ {
		a, c := twoPeers(b)
		a.serve("serve", map[string]string{"HEIMDALL_COMPONENTS": "api,ingest"})
		c.serve("serve", map[string]string{"HEIMDALL_COMPONENTS": "api"})
		agent := c.start("sync", nil, "sync")
		b.ResetTimer()
		start := time.Now()
		records := want / 3 // three events per flow record
		for first := 0; first < records; first += 10_000 {
			a.mustIngest(flowLines(first, min(10_000, records-first)), "source=bench-live")
		}
		ingested := time.Now()
		total := logSize(b, a.instance)
		deadline := ingested.Add(10 * time.Minute)
		for logSize(b, c.instance) < total {
			if time.Now().After(deadline) {
				b.Fatalf("b holds %d of %d events 10 minutes after a's last ingest", logSize(b, c.instance), total)
			}
			time.Sleep(20 * time.Millisecond)
		}
		done := time.Now()
		// Then, caught up: how long one small batch takes to reach b.
		var lat []time.Duration
		for j := range 20 {
			a.mustIngest(flowLines(records+j*100, 100), "source=bench-live-small")
			acked := time.Now()
			n := logSize(b, a.instance)
			for logSize(b, c.instance) < n {
				if time.Since(acked) > time.Minute {
					b.Fatalf("a small batch did not reach b within a minute")
				}
				time.Sleep(5 * time.Millisecond)
			}
			lat = append(lat, time.Since(acked))
		}
		b.StopTimer()
		slices.Sort(lat)
		rss := peakRSS(agent.cmd.Process.Pid)
		rate := float64(total) / done.Sub(start).Seconds()
		b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "idle-batch-p50-ms")
		b.ReportMetric(float64(lat[len(lat)-1].Milliseconds()), "idle-batch-max-ms")
		b.ReportMetric(float64(total), "events")
		b.ReportMetric(rate, "events/s")
		b.ReportMetric(float64(total)/ingested.Sub(start).Seconds(), "ingest-events/s")
		b.ReportMetric(done.Sub(ingested).Seconds()*1000, "tail-lag-ms")
		b.ReportMetric(float64(rss)/(1<<20), "agent-peak-RSS-MiB")
		b.Logf("%d events ingested at a in %v, all at b %v later: %.0f events/s replicated; agent peak RSS %d MiB; "+
			"a 100-record batch reaches b in %v (median of 20), %v at most",
			total, ingested.Sub(start).Round(time.Millisecond), done.Sub(ingested).Round(time.Millisecond), rate, rss>>20,
			lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
	}
}

// twoPeers returns two sites configured to pull from each other.
func twoPeers(b testing.TB) (*site, *site) {
	sites := newSites(b, 2)
	a, c := sites[0], sites[1]
	a.configure(b, sites, map[string]peerLink{c.id: {url: "https://" + c.addr}}, nil)
	c.configure(b, sites, map[string]peerLink{a.id: {url: "https://" + a.addr}}, nil)
	return a, c
}

// logSize is the number of records in the instance's events topic.
func logSize(t testing.TB, in *instance) int64 {
	t.Helper()
	cl, err := kafka.NewClient(in.st.Kafka(in.t, devstack.KafkaAdmin))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kafka.EndOffsets(context.Background(), cl, in.eventsT)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, e := range ends {
		n += e
	}
	return n
}

// valueBytes sums the value sizes of the instance's events topic.
func valueBytes(t testing.TB, in *instance) int64 {
	t.Helper()
	var n int64
	h := handlerFunc(func(_ context.Context, recs []events.LogRecord) error {
		for _, r := range recs {
			n += int64(len(r.Key) + len(r.Value))
		}
		return nil
	})
	if _, err := kafka.ReadRange(context.Background(), in.st.Kafka(in.t, devstack.KafkaAdmin), in.eventsT, 10000, h, nil); err != nil {
		t.Fatal(err)
	}
	return n
}
