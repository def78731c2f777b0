package graphstore

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heimdallhub/heimdall/events"
)

// BenchmarkProjectBatch projects batches of DNS-like events into a real
// graph. Per op and stream, one batch of size relation events, each with an
// entity event for both endpoints: "new" creates 2*size vertices and size
// edges,
// "update" re-observes the same keys later (every vertex and edge is
// rewritten). It reports vertices+edges written per second of wall time, and
// per CPU second of this process plus its PostgreSQL backends (on a machine
// shared with other work, the second is the steadier figure: one projector
// stream runs Go and PostgreSQL in turn, so on two idle cores its wall-clock
// rate approaches its CPU rate).
func BenchmarkProjectBatch(b *testing.B) {
	for _, size := range []int{500, 2000} {
		for _, streams := range []int{1, 2} {
			b.Run(fmt.Sprintf("new/size=%d/streams=%d", size, streams), func(b *testing.B) { benchProject(b, size, streams, false) })
			b.Run(fmt.Sprintf("update/size=%d/streams=%d", size, streams), func(b *testing.B) { benchProject(b, size, streams, true) })
		}
	}
}

// benchProject runs streams projectors on as many partitions at once (as
// consumers of one group would), each handling one batch per op.
func benchProject(b *testing.B, size, streams int, update bool) {
	ctx := context.Background()
	s := openStore(b, testDatabase(b))
	w := newLogWriter(b)
	p := newProjector(b, s, w.codec)
	batch := func(stream, i int) []events.LogRecord {
		first := (i*streams + stream) * size
		if update {
			first = stream * size
		}
		return w.append(int32(stream), dnsEventsFrom(first, size, fmt.Sprint("bench", i), i*size)...)
	}
	// Warm up: labels exist, connections are open, and for "update" the
	// keys exist.
	for st := range streams {
		if err := p.Handle(ctx, batch(st, 0)); err != nil {
			b.Fatal(err)
		}
	}
	var wall, goCPU, pgCPU time.Duration
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		recs := make([][]events.LogRecord, streams)
		for st := range streams {
			recs[st] = batch(st, i+1) // encoding the events is not part of projecting them
		}
		pg0, go0, t0 := backendCPU(b, s), processCPU(), time.Now()
		b.StartTimer()
		errs := make(chan error, streams)
		for st := range streams {
			go func() { errs <- p.Handle(ctx, recs[st]) }()
		}
		for range streams {
			if err := <-errs; err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		wall += time.Since(t0)
		goCPU += processCPU() - go0
		pgCPU += backendCPU(b, s) - pg0
	}
	elapsed, cpu := wall.Seconds(), (goCPU + pgCPU).Seconds()
	b.ReportMetric(float64(goCPU.Milliseconds())/float64(b.N), "go-cpu-ms/op")
	b.ReportMetric(float64(pgCPU.Milliseconds())/float64(b.N), "pg-cpu-ms/op")
	elements := float64(b.N * 3 * size * streams) // 2 vertices + 1 edge per relation event
	b.ReportMetric(elements/elapsed, "elements/s")
	if cpu > 0 {
		b.ReportMetric(elements/cpu, "elements/cpu-s")
	}
	b.ReportMetric(elapsed*1e9/float64(b.N), "ns/op")
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// backendCPU sums the CPU time of the PostgreSQL backends connected to the
// store's database (the server runs on this machine in the dev stack).
func backendCPU(b *testing.B, s *Store) time.Duration {
	rows, err := s.pool.Query(context.Background(), "SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
	if err != nil {
		b.Fatal(err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		b.Fatal(err)
	}
	var total time.Duration
	for _, pid := range pids {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue // not on this machine
		}
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
		if len(f) < 13 {
			continue
		}
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		total += time.Duration(ut+st) * 10 * time.Millisecond // USER_HZ = 100
	}
	return total
}
