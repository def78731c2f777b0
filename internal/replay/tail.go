package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/internal/kafka"
)

// Start is where Tail begins in every partition.
type Start struct {
	Beginning bool      // the log start
	At        time.Time // the first record at or after At (record timestamp)
	// neither: the end (only records appended from now on)
}

// ParseStart reads "beginning", "end" or an RFC 3339 time.
func ParseStart(s string) (Start, error) {
	switch s {
	case "beginning":
		return Start{Beginning: true}, nil
	case "end", "":
		return Start{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return Start{}, fmt.Errorf("start %q is not beginning, end or an RFC 3339 time", s)
	}
	return Start{At: t}, nil
}

func (s Start) offset() kgo.Offset {
	switch {
	case s.Beginning:
		return kgo.NewOffset().AtStart()
	case !s.At.IsZero():
		return kgo.NewOffset().AfterMilli(s.At.UnixMilli())
	}
	return kgo.NewOffset().AtEnd()
}

// TailOptions say what Tail follows.
type TailOptions struct {
	Topic  string
	Start  Start
	Filter Filter
	Logger *slog.Logger
	// Codec decodes the records; nil: the codec without a schema registry.
	Codec *events.Codec
}

// Tail follows every partition of o.Topic from o.Start and writes each
// event the filter selects to w as one NDJSON line (AppendNDJSON), until
// ctx is done; it then returns nil. Records that are not events are
// skipped with a warning.
func Tail(ctx context.Context, cfg kafka.Config, o TailOptions, w io.Writer) error {
	if o.Topic == "" {
		return errors.New("no topic to tail")
	}
	if err := o.Filter.Validate(); err != nil {
		return err
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	codec := o.Codec
	if codec == nil {
		var err error
		if codec, err = events.NewCodec(); err != nil {
			return err
		}
	}
	if err := topicExists(ctx, cfg, o.Topic); err != nil {
		return err
	}
	cl, err := kafka.NewClient(cfg,
		kgo.ConsumeTopics(o.Topic),
		kgo.ConsumeResetOffset(o.Start.offset()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
	)
	if err != nil {
		return err
	}
	defer cl.Close()
	var buf []byte
	for {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil || fetches.IsClientClosed() {
			return nil
		}
		var fetchErr error
		fetches.EachError(func(t string, p int32, err error) {
			if errors.Is(err, context.Canceled) {
				return
			}
			fetchErr = errors.Join(fetchErr, fmt.Errorf("fetching %s/%d: %w", t, p, err))
		})
		if fetchErr != nil {
			return fetchErr
		}
		buf = buf[:0]
		fetches.EachRecord(func(rec *kgo.Record) {
			if !o.Filter.MatchRecord(rec.Key, rec.Timestamp) {
				return
			}
			e, err := codec.Decode(rec.Value)
			if err != nil {
				log.Warn("skipping a record that is not an event", "topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset, "err", err)
				return
			}
			if !o.Filter.MatchEvent(e) {
				return
			}
			b, err := AppendNDJSON(buf, Position{Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset, Timestamp: rec.Timestamp}, e)
			if err != nil {
				log.Warn("skipping an event that does not encode as JSON", "topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset, "err", err)
				return
			}
			buf = b
		})
		if len(buf) > 0 {
			if _, err := w.Write(buf); err != nil {
				return fmt.Errorf("writing events: %w", err)
			}
		}
	}
}

func topicExists(ctx context.Context, cfg kafka.Config, topic string) error {
	cl, err := kafka.NewClient(cfg, freshMetadata)
	if err != nil {
		return err
	}
	defer cl.Close()
	td, err := kadm.NewClient(cl).ListTopics(ctx, topic)
	if err != nil {
		return fmt.Errorf("describing topic %s: %w", topic, err)
	}
	if d, ok := td[topic]; !ok || d.Err != nil {
		return fmt.Errorf("topic %s does not exist", topic)
	}
	return nil
}
