package events

import (
	"testing"
	"time"
)

// NowAfter is greater than the value it is given and than everything
// returned before, whichever is ahead: the wall clock, the remote value or
// the clock's own past.
func TestClockNowAfter(t *testing.T) {
	wall := time.UnixMilli(10_000)
	c := NewClock(func() time.Time { return wall })
	if n := c.NowAfter(0); n != MakeHLC(10_000, 0) {
		t.Fatalf("NowAfter(0) with nothing observed: %d,%d", n.Millis(), n.Logical())
	}
	// A remote value ahead of the wall clock.
	remote := MakeHLC(50_000, 3)
	if n := c.NowAfter(remote); n != MakeHLC(50_000, 4) {
		t.Fatalf("after a remote value ahead: %d,%d", n.Millis(), n.Logical())
	}
	// A remote value behind what the clock returned.
	if n := c.NowAfter(MakeHLC(20_000, 0)); n != MakeHLC(50_000, 5) {
		t.Fatalf("after a remote value behind: %d,%d", n.Millis(), n.Logical())
	}
	// Later Now values stay ahead of it.
	if n := c.Now(); n != MakeHLC(50_000, 6) {
		t.Fatalf("Now after NowAfter: %d,%d", n.Millis(), n.Logical())
	}
	// The wall clock ahead of both.
	wall = time.UnixMilli(90_000)
	if n := c.NowAfter(MakeHLC(60_000, 0)); n != MakeHLC(90_000, 0) {
		t.Fatalf("wall clock ahead: %d,%d", n.Millis(), n.Logical())
	}
	// The logical counter exhausted: the next millisecond.
	if n := c.NowAfter(MakeHLC(95_000, 0xffff)); n != MakeHLC(95_001, 0) {
		t.Fatalf("overflow: %d,%d", n.Millis(), n.Logical())
	}
}

// ObserveWithin merges a peer's value unless it lies further ahead of the
// wall clock than allowed.
func TestClockObserveWithin(t *testing.T) {
	wall := time.UnixMilli(1_800_000_000_000)
	c := NewClock(func() time.Time { return wall })
	near := MakeHLC(wall.Add(2*time.Second).UnixMilli(), 7)
	if !c.ObserveWithin(near, time.Minute) {
		t.Fatal("a value 2 s ahead was refused with a minute allowed")
	}
	if got := c.Now(); got <= near {
		t.Fatalf("Now %v after observing %v", got, near)
	}
	far := MakeHLC(wall.Add(2*time.Hour).UnixMilli(), 0)
	if c.ObserveWithin(far, time.Minute) {
		t.Fatal("a value 2 h ahead was merged with a minute allowed")
	}
	if got := c.Now(); got >= far {
		t.Fatalf("the refused value moved the clock: %v", got)
	}
	if !c.ObserveWithin(MakeHLC(wall.Add(-time.Hour).UnixMilli(), 0), time.Minute) {
		t.Fatal("a value in the past was refused")
	}
}
