// Package appendlog appends a command's events to the log and waits until
// every one is acknowledged (or one fails): the shared last step of the
// small commands (classify, retract).
package appendlog

import (
	"context"
	"fmt"
	"time"

	"github.com/heimdallhub/heimdall/events"
)

// Log appends records; done is called with nil once acknowledged.
type Log interface {
	Append(ctx context.Context, topic string, key, value []byte, headers map[string]string, done func(error))
}

// Encoder encodes events.
type Encoder interface {
	Encode(events.Event) ([]byte, error)
}

// Record is one event for one topic.
type Record struct {
	Topic string
	Event events.Event
}

// All appends every record (each with headers plus its event type) and
// waits up to timeout for all acknowledgements. It returns the first
// failure.
func All(ctx context.Context, log Log, enc Encoder, timeout time.Duration, headers map[string]string, recs ...Record) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	done := make(chan error, len(recs))
	for _, r := range recs {
		b, err := enc.Encode(r.Event)
		if err != nil {
			return fmt.Errorf("encoding %s: %w", r.Event.Payload.EventType(), err)
		}
		h := map[string]string{"heimdall.event_type": r.Event.Payload.EventType()}
		for k, v := range headers {
			h[k] = v
		}
		log.Append(ctx, r.Topic, []byte(r.Event.Key), b, h, func(err error) { done <- err })
	}
	for range recs {
		select {
		case err := <-done:
			if err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
