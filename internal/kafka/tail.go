package kafka

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/heimdallhub/heimdall/events"
)

// Tail reads every partition of one topic from given offsets, without a
// group: the reading side of peer sync's export. It knows the end offsets
// of the moment it was opened, so its reader can tell when it has caught up.
type Tail struct {
	cl   *kgo.Client
	ends map[int32]int64
	next map[int32]int64
}

// OpenTail opens topic at from (a partition it does not name is read from
// its start); with only, just those partitions.
func OpenTail(ctx context.Context, cfg Config, topic string, from map[int32]int64, only []int32) (*Tail, error) {
	admin, err := NewClient(cfg)
	if err != nil {
		return nil, err
	}
	ends, err := EndOffsets(ctx, admin, topic)
	admin.Close()
	if err != nil {
		return nil, err
	}
	if len(only) > 0 {
		sel := map[int32]int64{}
		for _, p := range only {
			if e, ok := ends[p]; ok {
				sel[p] = e
			}
		}
		ends = sel
	}
	if len(ends) == 0 {
		return nil, fmt.Errorf("topic %s has no such partitions", topic)
	}
	offsets := map[int32]kgo.Offset{}
	next := map[int32]int64{}
	for p := range ends {
		o := from[p]
		offsets[p] = kgo.NewOffset().At(o).WithEpoch(-1)
		next[p] = o
	}
	cl, err := NewClient(cfg,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(500*time.Millisecond),
	)
	if err != nil {
		return nil, err
	}
	return &Tail{cl: cl, ends: ends, next: next}, nil
}

// CaughtUp reports whether every partition was read up to the end offsets
// of the moment the tail was opened.
func (t *Tail) CaughtUp() bool {
	for p, end := range t.ends {
		if t.next[p] < end {
			return false
		}
	}
	return true
}

// Poll returns up to max records, waiting at most wait for the first ones;
// none (and no error) when wait passed without any.
func (t *Tail) Poll(ctx context.Context, max int, wait time.Duration) ([]events.LogRecord, error) {
	pctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	fetches := t.cl.PollRecords(pctx, max)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var fetchErr error
	fetches.EachError(func(topic string, p int32, err error) {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return
		}
		fetchErr = errors.Join(fetchErr, fmt.Errorf("fetching %s/%d: %w", topic, p, err))
	})
	if fetchErr != nil {
		return nil, fetchErr
	}
	recs := fetches.Records()
	for _, r := range recs {
		t.next[r.Partition] = r.Offset + 1
	}
	return convert(recs), nil
}

// Ends returns the end offsets of the moment the tail was opened.
func (t *Tail) Ends() map[int32]int64 { return t.ends }

// Close closes the tail's client.
func (t *Tail) Close() { t.cl.Close() }

// ReadSince calls fn with every record of topic whose timestamp is at or
// after since, up to the end offsets of the moment it is called (in offset
// order per partition). The sync agent uses it to find which events of an
// interrupted import reached the log: a producer stamps its records when it
// sends them, so none of them lies before the offsets of since.
func ReadSince(ctx context.Context, cfg Config, topic string, since time.Time, fn func(events.LogRecord) error) error {
	admin, err := NewClient(cfg)
	if err != nil {
		return err
	}
	listed, err := kadm.NewClient(admin).ListOffsetsAfterMilli(ctx, since.UnixMilli(), topic)
	admin.Close()
	if err != nil {
		return fmt.Errorf("listing offsets of %s after %s: %w", topic, since.Format(time.RFC3339), err)
	}
	from, err := offsetsOf(listed, "offset after "+since.Format(time.RFC3339))
	if err != nil {
		return err
	}
	if len(from) == 0 {
		return fmt.Errorf("topic %s has no partitions", topic)
	}
	t, err := OpenTail(ctx, cfg, topic, from, nil)
	if err != nil {
		return err
	}
	defer t.Close()
	for !t.CaughtUp() {
		recs, err := t.Poll(ctx, 5000, 10*time.Second)
		if err != nil {
			return err
		}
		for _, r := range recs {
			if r.Offset < t.ends[r.Partition] {
				if err := fn(r); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
