package agent

import (
	"context"
	"testing"
	"time"

	"github.com/heimdallhub/heimdall/events"
)

// FeedClock makes the local clock observe the greatest imported HLC, but
// not one too far ahead of the wall clock.
func TestFeedClock(t *testing.T) {
	wall := time.UnixMilli(1_800_000_000_000)
	clock := events.NewClock(func() time.Time { return wall })
	values := []events.HLC{
		events.MakeHLC(wall.Add(time.Second).UnixMilli(), 3), // a peer a second ahead
		events.MakeHLC(wall.Add(time.Hour).UnixMilli(), 0),   // a peer an hour ahead
	}
	ctx, cancel := context.WithCancel(context.Background())
	reads := 0
	FeedClock(ctx, clock, func(context.Context) (events.HLC, error) {
		h := values[min(reads, len(values)-1)]
		reads++
		if reads == 3 {
			cancel()
		}
		return h, nil
	}, time.Millisecond, nil)
	got := clock.Now()
	if got <= values[0] {
		t.Fatalf("Now %v is not after the imported %v", got, values[0])
	}
	if got >= values[1] {
		t.Fatalf("Now %v followed a value an hour ahead", got)
	}
}
