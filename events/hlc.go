package events

import (
	"sync"
	"time"
)

// HLC is a hybrid logical clock value: unix milliseconds << 16 | logical.
type HLC int64

const logicalBits = 16

// MakeHLC builds an HLC from wall-clock milliseconds and a logical counter.
func MakeHLC(ms int64, logical uint16) HLC { return HLC(ms<<logicalBits | int64(logical)) }

// Millis is the physical part of h.
func (h HLC) Millis() int64 { return int64(h) >> logicalBits }

// Logical is the logical part of h.
func (h HLC) Logical() uint16 { return uint16(h & (1<<logicalBits - 1)) }

// Time is the physical part of h as a time.
func (h HLC) Time() time.Time { return time.UnixMilli(h.Millis()).UTC() }

// Clock issues strictly increasing HLC values and absorbs remote ones
// (Kulkarni et al., "Logical Physical Clocks"). It is safe for concurrent use.
type Clock struct {
	mu   sync.Mutex
	last HLC
	now  func() time.Time
}

// NewClock returns a clock reading wall time from now (time.Now if nil).
func NewClock(now func() time.Time) *Clock {
	if now == nil {
		now = time.Now
	}
	return &Clock{now: now}
}

// Now returns a value greater than every value returned or observed before.
func (c *Clock) Now() HLC {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.last = c.next(c.last)
	return c.last
}

// NowAfter returns a value greater than h and than every value returned or
// observed before: Observe(h) and Now in one step. A write that supersedes
// a value it has read (a reclassification of a record's current one) takes
// its HLC from NowAfter, so last-writer-wins by HLC agrees with causality
// even when the value read came from a peer whose clock is ahead.
func (c *Clock) NowAfter(h HLC) HLC {
	c.mu.Lock()
	defer c.mu.Unlock()
	if h > c.last {
		c.last = h
	}
	c.last = c.next(c.last)
	return c.last
}

// Observe merges a remote value so later Now values are greater than it.
func (c *Clock) Observe(remote HLC) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if remote > c.last {
		c.last = remote
	}
}

// ObserveWithin is Observe for a value from another peer: it is merged
// only if its physical part is at most maxAhead ahead of this clock's wall
// time, so a peer whose clock runs far ahead (or a forged value) cannot
// drag this clock with it. It reports whether the value was merged.
func (c *Clock) ObserveWithin(remote HLC, maxAhead time.Duration) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if remote.Millis() > c.now().Add(maxAhead).UnixMilli() {
		return false
	}
	if remote > c.last {
		c.last = remote
	}
	return true
}

func (c *Clock) next(last HLC) HLC {
	wall := c.now().UnixMilli()
	if wall > last.Millis() {
		return MakeHLC(wall, 0)
	}
	if last.Logical() == 1<<logicalBits-1 {
		// The logical counter is exhausted within one millisecond: borrow
		// the next millisecond rather than wrap.
		return MakeHLC(last.Millis()+1, 0)
	}
	return last + 1
}
