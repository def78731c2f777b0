package replay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/time/rate"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/internal/kafka"
)

// Options say what Run reads and how fast it replays.
type Options struct {
	Topic  string
	Filter Filter
	// Partitions restricts the read to these partitions (none: every one).
	Partitions []int32
	// FromOffset and ToOffset bound the read to [FromOffset, ToOffset) in
	// the one partition Partitions names; 0 is open (the log start, the
	// end offset).
	FromOffset, ToOffset int64
	// Exclude are event types never replayed even when they match (counted
	// as skipped); see OwnTopicExcluded.
	Exclude []string
	// Rate limits the records replayed (those that match) per second; 0 is
	// unlimited. Records read and not selected are not limited, nor is a
	// dry run.
	Rate float64
	// DryRun counts what would be replayed, per event type, and writes
	// nothing: the sink is not used and may be nil.
	DryRun bool
	// BatchSize is the most records one poll returns (default 5000).
	BatchSize int
	// Progress, when set, is called with a snapshot about every
	// ProgressEvery (default one second) while Run reads.
	Progress      func(Stats)
	ProgressEvery time.Duration
	Logger        *slog.Logger
	// Codec decodes records for the filter (records are copied whole,
	// framing included); nil: the codec without a schema registry, which
	// cannot read records in the Confluent wire format.
	Codec *events.Codec
}

// Stats count what Run did.
type Stats struct {
	Read        int64 // records read within the partitions and offsets selected
	Matched     int64 // records the filter selected (replayed, or counted by a dry run)
	Written     int64 // records the sink has written (for a topic: acknowledged)
	Skipped     int64 // matched records of an excluded type, not replayed
	Undecodable int64 // records that are not events this build can decode (skipped)
	// ByType counts matched records per event type (in the final Stats
	// only).
	ByType  map[string]int64
	Elapsed time.Duration
	// Ranges are the offsets read per partition: [start, end), end being
	// the end offset found when Run started (or ToOffset).
	Ranges map[int32][2]int64
}

// Sink receives the selected records in offset order per partition.
type Sink interface {
	// Write emits one record; e is its decoded event.
	Write(ctx context.Context, rec *kgo.Record, e events.Event) error
	// Written is how many records are durably written so far.
	Written() int64
	// Close finishes writing (waits for every acknowledgement, flushes and
	// syncs) and reports the first error.
	Close(ctx context.Context) error
}

// Validate reports options that cannot work.
func (o Options) Validate() error {
	var errs []error
	if o.Topic == "" {
		errs = append(errs, errors.New("no source topic"))
	}
	if err := o.Filter.Validate(); err != nil {
		errs = append(errs, err)
	}
	for _, p := range o.Partitions {
		if p < 0 {
			errs = append(errs, fmt.Errorf("partition %d is negative", p))
		}
	}
	if o.FromOffset < 0 || o.ToOffset < 0 {
		errs = append(errs, errors.New("offsets are never negative"))
	}
	if (o.FromOffset > 0 || o.ToOffset > 0) && len(o.Partitions) != 1 {
		errs = append(errs, errors.New("an offset range needs one partition: offsets are per partition"))
	}
	if o.ToOffset > 0 && o.FromOffset >= o.ToOffset {
		errs = append(errs, fmt.Errorf("offset range is empty: from %d is not below to %d", o.FromOffset, o.ToOffset))
	}
	if o.Rate < 0 {
		errs = append(errs, errors.New("rate is negative"))
	}
	return errors.Join(errs...)
}

// Burst is the token bucket size Run uses for a rate: a tenth of a second
// of records, at least one.
func Burst(r float64) int { return max(1, int(r/10)) }

// Run reads o.Topic from the start of the selected range to the end
// offsets found when it starts, and hands every selected record to sink
// (or only counts it, for a dry run). It returns when everything read is
// written — for a topic sink, acknowledged by every in-sync replica.
func Run(ctx context.Context, cfg kafka.Config, o Options, sink Sink) (Stats, error) {
	start := time.Now()
	if err := o.Validate(); err != nil {
		return Stats{}, err
	}
	if !o.DryRun && sink == nil {
		return Stats{}, errors.New("no sink to write to")
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ranges, err := Ranges(ctx, cfg, o)
	if err != nil {
		return Stats{}, err
	}
	r := &runner{o: o, sink: sink, log: log, byType: map[string]int64{}, exclude: map[string]bool{}}
	for _, t := range o.Exclude {
		r.exclude[t] = true
	}
	if o.Rate > 0 && !o.DryRun {
		r.limiter = rate.NewLimiter(rate.Limit(o.Rate), Burst(o.Rate))
	}
	stats := func() Stats {
		s := Stats{
			Read: r.read.Load(), Matched: r.matched.Load(), Skipped: r.skipped.Load(),
			Undecodable: r.undecodable.Load(), Elapsed: time.Since(start), Ranges: ranges,
		}
		if sink != nil && !o.DryRun {
			s.Written = sink.Written()
		}
		return s
	}
	if o.Progress != nil {
		every := o.ProgressEvery
		if every <= 0 {
			every = time.Second
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					o.Progress(stats())
				}
			}
		}()
		defer func() { close(stop); wg.Wait() }()
	}
	readErr := r.consume(ctx, cfg, ranges)
	var closeErr error
	if sink != nil && !o.DryRun {
		// On a read error the records handed over so far are still
		// flushed, so what was reported written is written.
		closeErr = sink.Close(context.WithoutCancel(ctx))
	}
	s := stats()
	s.ByType = r.byType
	if err := errors.Join(readErr, closeErr); err != nil {
		return s, err
	}
	if !o.DryRun && s.Written != s.Matched {
		return s, fmt.Errorf("%d of %d records written", s.Written, s.Matched)
	}
	return s, nil
}

// Ranges resolves the offsets Run reads per partition: [start, end), start
// being the log start, FromOffset or the first offset at or after
// Filter.From on the record timestamp (whichever is last), and end the end
// offset now or ToOffset (whichever is first). Partitions with nothing to
// read are left out.
func Ranges(ctx context.Context, cfg kafka.Config, o Options) (map[int32][2]int64, error) {
	cl, err := kafka.NewClient(cfg, freshMetadata)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ends, err := kafka.EndOffsets(ctx, cl, o.Topic)
	if err != nil {
		return nil, err
	}
	want := map[int32]bool{}
	for _, p := range o.Partitions {
		if _, ok := ends[p]; !ok {
			return nil, fmt.Errorf("topic %s has no partition %d (it has %d)", o.Topic, p, len(ends))
		}
		want[p] = true
	}
	starts, err := listed(adm.ListStartOffsets(ctx, o.Topic))
	if err != nil {
		return nil, fmt.Errorf("listing start offsets of %s: %w", o.Topic, err)
	}
	var after map[int32]int64
	if f := o.Filter; f.timeField() == TimeRecord && !f.From.IsZero() {
		after, err = listed(adm.ListOffsetsAfterMilli(ctx, f.From.UnixMilli(), o.Topic))
		if err != nil {
			return nil, fmt.Errorf("listing offsets of %s after %s: %w", o.Topic, f.From.Format(time.RFC3339), err)
		}
	}
	out := map[int32][2]int64{}
	for p, end := range ends {
		if len(want) > 0 && !want[p] {
			continue
		}
		from := starts[p]
		if o.FromOffset > from {
			from = o.FromOffset
		}
		if a, ok := after[p]; ok && a > from {
			from = a
		}
		if o.ToOffset > 0 && o.ToOffset < end {
			end = o.ToOffset
		}
		if from < end {
			out[p] = [2]int64{from, end}
		}
	}
	return out, nil
}

func listed(l kadm.ListedOffsets, err error) (map[int32]int64, error) {
	if err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	var errs []error
	l.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			errs = append(errs, fmt.Errorf("partition %d: %w", o.Partition, o.Err))
			return
		}
		out[o.Partition] = o.Offset
	})
	return out, errors.Join(errs...)
}

type runner struct {
	o       Options
	sink    Sink
	log     *slog.Logger
	limiter *rate.Limiter
	exclude map[string]bool
	codec   *events.Codec

	read, matched, skipped, undecodable atomic.Int64
	byType                              map[string]int64 // read loop only
}

// consume reads ranges (mirroring kafka.ReadRange, but keeping records
// whole: headers in order, timestamps) and handles each record.
func (r *runner) consume(ctx context.Context, cfg kafka.Config, ranges map[int32][2]int64) error {
	if len(ranges) == 0 {
		return nil
	}
	codec := r.o.Codec
	if codec == nil {
		var err error
		if codec, err = events.NewCodec(); err != nil {
			return err
		}
	}
	r.codec = codec
	offsets := map[int32]kgo.Offset{}
	pending := map[int32]bool{}
	for p, rg := range ranges {
		offsets[p] = kgo.NewOffset().At(rg[0]).WithEpoch(-1)
		pending[p] = true
	}
	cl, err := kafka.NewClient(cfg,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{r.o.Topic: offsets}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
	)
	if err != nil {
		return err
	}
	defer cl.Close()
	batch := r.o.BatchSize
	if batch <= 0 {
		batch = 5000
	}
	for len(pending) > 0 {
		fetches := cl.PollRecords(ctx, batch)
		if err := ctx.Err(); err != nil {
			return err
		}
		var fetchErr error
		fetches.EachError(func(t string, p int32, err error) {
			fetchErr = errors.Join(fetchErr, fmt.Errorf("fetching %s/%d: %w", t, p, err))
		})
		if fetchErr != nil {
			return fetchErr
		}
		var handleErr error
		fetches.EachRecord(func(rec *kgo.Record) {
			if handleErr != nil || !pending[rec.Partition] {
				return
			}
			rg := ranges[rec.Partition]
			if rec.Offset+1 >= rg[1] {
				delete(pending, rec.Partition)
			}
			if rec.Offset < rg[0] || rec.Offset >= rg[1] {
				return
			}
			handleErr = r.handle(ctx, rec)
		})
		if handleErr != nil {
			return handleErr
		}
	}
	return nil
}

func (r *runner) handle(ctx context.Context, rec *kgo.Record) error {
	r.read.Add(1)
	f := r.o.Filter
	if !f.MatchRecord(rec.Key, rec.Timestamp) {
		return nil
	}
	e, err := r.codec.Decode(rec.Value)
	if err != nil {
		r.undecodable.Add(1)
		r.log.Warn("skipping a record that is not an event", "topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset, "err", err)
		return nil
	}
	if !f.MatchEvent(e) {
		return nil
	}
	if r.exclude[e.Type] {
		r.skipped.Add(1)
		return nil
	}
	if r.limiter != nil {
		if err := r.limiter.Wait(ctx); err != nil {
			return err
		}
	}
	r.matched.Add(1)
	r.byType[e.Type]++
	if r.o.DryRun {
		return nil
	}
	if err := r.sink.Write(ctx, rec, e); err != nil {
		return fmt.Errorf("writing %s/%d@%d: %w", rec.Topic, rec.Partition, rec.Offset, err)
	}
	return nil
}

// SortedTypes returns the event types of counts sorted by name.
func SortedTypes(counts map[string]int64) []string {
	out := make([]string, 0, len(counts))
	for t := range counts {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}
