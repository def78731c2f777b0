package resilient

import (
	"context"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/heimdallhub/heimdall/internal/enrichment"
)

// gate paces attempts: a token bucket (rate.Limiter), and a provider-wide
// pause that no attempt may start in.
//
// An attempt takes its token at the moment it starts (AllowN), not ahead of
// time as Limiter.Wait would: a goroutine that wakes up late from a
// reservation would start together with the next one, and the two would
// exceed the rate in some window. So that waiting callers do not all poll
// the bucket at once, one caller at a time (the holder of turn) waits for
// the next token; the others queue for the turn.
//
// All limiter operations happen under mu with the time read under mu, so
// the limiter only ever sees increasing times (it would credit tokens
// twice if time ran backwards).
type gate struct {
	turn  chan struct{}
	mu    sync.Mutex
	lim   *rate.Limiter
	until time.Time // no attempt starts before this
	last  time.Time // latest time handed to lim
}

func newGate(perSecond float64, burst int) *gate {
	l := rate.Limit(perSecond)
	if math.IsInf(perSecond, 1) {
		l = rate.Inf
	}
	return &gate{turn: make(chan struct{}, 1), lim: rate.NewLimiter(l, burst)}
}

// pause stops every attempt from starting before until. The bucket is
// emptied as of until, so the calls that waited do not rush out together
// when the pause ends.
func (g *gate) pause(until time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !until.After(g.until) {
		return
	}
	g.until = until
	if g.lim.Limit() == rate.Inf || until.Before(g.last) {
		return
	}
	if n := int(math.Ceil(g.lim.TokensAt(until))); n > 0 {
		g.lim.ReserveN(until, n) // never used: these tokens are gone
		g.last = until
	}
}

// pausedFor returns how long the pause still lasts, or zero.
func (g *gate) pausedFor() time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	return max(time.Until(g.until), 0)
}

// wait blocks until an attempt may start: any pause has ended and the
// bucket gave a token. It gives up at once, with ClassRateLimited, when the
// attempt could not start before deadline, and with ctx's error when ctx
// ends first. It returns how long it waited (zero if it did not).
func (g *gate) wait(ctx context.Context, deadline time.Time) (time.Duration, error) {
	start := time.Now()
	var waited time.Duration
	select {
	case g.turn <- struct{}{}:
	default:
		if err := g.queue(ctx, deadline); err != nil {
			return time.Since(start), err
		}
		waited = time.Since(start)
	}
	defer func() { <-g.turn }()
	for {
		g.mu.Lock()
		now := time.Now()
		d, until := g.until.Sub(now), g.until
		if d <= 0 {
			if now.After(g.last) {
				g.last = now
			}
			if g.lim.AllowN(now, 1) {
				g.mu.Unlock()
				return waited, nil
			}
			d = g.tokenDelay(now)
		}
		g.mu.Unlock()
		if now.Add(d).After(deadline) {
			if until.After(now) {
				e := enrichment.Errorf(enrichment.ClassRateLimited, "the provider asked for a pause that outlasts the call's deadline")
				e.RetryAfter = until.Sub(now)
				return waited, e
			}
			e := enrichment.Errorf(enrichment.ClassRateLimited, "the rate limit allows no call before the call's deadline")
			e.RetryAfter = d
			return waited, e
		}
		err := sleep(ctx, d)
		waited = time.Since(start)
		if err != nil {
			return waited, err
		}
	}
}

// queue waits for the turn to take a token.
func (g *gate) queue(ctx context.Context, deadline time.Time) error {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case g.turn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return enrichment.Errorf(enrichment.ClassRateLimited, "the rate limit allows no call before the call's deadline")
	}
}

// tokenDelay returns how long until the bucket holds a token; g.mu is
// held.
func (g *gate) tokenDelay(now time.Time) time.Duration {
	missing := 1 - g.lim.TokensAt(now)
	return max(time.Duration(missing/float64(g.lim.Limit())*float64(time.Second)), time.Microsecond)
}

// sleep waits for d or until ctx ends, whichever is first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
