package resilient

import (
	"time"

	"github.com/cenkalti/backoff/v5"
)

// randomization is the jitter of the backoff: each wait is drawn from
// ±50% around the current interval.
const randomization = 0.5

// pacedBackOff is exponential backoff with jitter between attempts, capped
// at the policy's maximum, never shorter than the provider-wide pause still
// to run (so a Retry-After is waited out in full), and Stop when the next
// attempt could not start before deadline.
type pacedBackOff struct {
	exp      *backoff.ExponentialBackOff
	max      time.Duration
	gate     *gate
	deadline time.Time
}

func newPacedBackOff(pol Policy, g *gate, deadline time.Time) *pacedBackOff {
	return &pacedBackOff{
		exp: &backoff.ExponentialBackOff{
			InitialInterval:     pol.InitialBackoff,
			RandomizationFactor: randomization,
			Multiplier:          2,
			MaxInterval:         pol.MaxBackoff,
		},
		max:      pol.MaxBackoff,
		gate:     g,
		deadline: deadline,
	}
}

func (b *pacedBackOff) Reset() { b.exp.Reset() }

func (b *pacedBackOff) NextBackOff() time.Duration {
	d := max(min(b.exp.NextBackOff(), b.max), b.gate.pausedFor())
	if time.Now().Add(d).After(b.deadline) {
		return backoff.Stop
	}
	return d
}
