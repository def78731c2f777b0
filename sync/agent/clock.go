package agent

import (
	"context"
	"log/slog"
	"time"

	"github.com/heimdallhub/heimdall/events"
)

// MaxClockAhead is how far ahead of the local wall clock an imported HLC
// may be and still be observed by the local clocks (FeedClock). A value
// further ahead comes from a peer whose clock is wrong (or from a forged
// event): it is not observed, so it cannot drag this peer's clocks, and is
// logged. The last-writer-wins rules still order it by its HLC.
const MaxClockAhead = 5 * time.Minute

// FeedClock makes clock observe the greatest HLC imported from any peer,
// read with latest every interval until ctx is done, so that what this
// peer writes after an import is ordered after it (a hybrid logical clock
// observes the values it receives). The sync agent may run in another
// process: the value goes through the sync store (syncstore.MaxImportedHLC).
func FeedClock(ctx context.Context, clock *events.Clock, latest func(context.Context) (events.HLC, error), every time.Duration, log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var seen, refused events.HLC
	for {
		h, err := latest(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("reading the greatest imported HLC", "err", err)
		case err == nil && h > seen:
			if clock.ObserveWithin(h, MaxClockAhead) {
				seen = h
			} else if h != refused {
				refused = h
				log.Warn("an imported event's clock is too far ahead of ours: not observed",
					"hlc_time", h.Time(), "max_ahead", MaxClockAhead)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}
