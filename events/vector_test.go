package events

import (
	"testing"
	"time"
)

func TestVersionVectorCompare(t *testing.T) {
	for _, tc := range []struct {
		v, w VersionVector
		want Ordering
	}{
		{nil, nil, Equal},
		{VersionVector{"a": 1}, VersionVector{"a": 1}, Equal},
		{VersionVector{"a": 1}, VersionVector{"a": 2}, Before},
		{VersionVector{"a": 2}, VersionVector{"a": 1}, After},
		{VersionVector{"a": 1}, VersionVector{"a": 1, "b": 1}, Before},
		{VersionVector{"a": 2}, VersionVector{"a": 1, "b": 1}, Concurrent},
		{VersionVector{"a": 1, "b": 0}, VersionVector{"a": 1}, Equal},
		{VersionVector{}, VersionVector{"x": 3}, Before},
	} {
		if got := tc.v.Compare(tc.w); got != tc.want {
			t.Errorf("%v.Compare(%v) = %v, want %v", tc.v, tc.w, got, tc.want)
		}
	}
}

func TestVersionVectorMergeLaws(t *testing.T) {
	vs := []VersionVector{{}, {"a": 1}, {"a": 3, "b": 2}, {"b": 5, "c": 1}, {"c": 9}}
	for _, x := range vs {
		if x.Merge(x).Compare(x) != Equal {
			t.Errorf("merge not idempotent for %v", x)
		}
		for _, y := range vs {
			if x.Merge(y).Compare(y.Merge(x)) != Equal {
				t.Errorf("merge not commutative for %v %v", x, y)
			}
			if o := x.Merge(y).Compare(x); o != After && o != Equal {
				t.Errorf("merge of %v %v does not dominate %v", x, y, x)
			}
			for _, z := range vs {
				if x.Merge(y).Merge(z).Compare(x.Merge(y.Merge(z))) != Equal {
					t.Errorf("merge not associative for %v %v %v", x, y, z)
				}
			}
		}
	}
	v := VersionVector{"a": 1}
	_ = v.With("a", 5)
	if v["a"] != 1 {
		t.Error("With modified its receiver")
	}
}

func TestClockMonotonic(t *testing.T) {
	wall := time.UnixMilli(1000)
	c := NewClock(func() time.Time { return wall })
	a := c.Now()
	b := c.Now()
	if b <= a || b.Millis() != 1000 || b.Logical() != 1 {
		t.Fatalf("a=%d b=%d", a, b)
	}
	c.Observe(MakeHLC(5000, 7))
	if n := c.Now(); n != MakeHLC(5000, 8) {
		t.Fatalf("after observing a remote clock ahead: %d (%d,%d)", n, n.Millis(), n.Logical())
	}
	wall = time.UnixMilli(9000)
	if n := c.Now(); n != MakeHLC(9000, 0) {
		t.Fatalf("wall clock ahead again: %d", n)
	}
	// Logical overflow borrows the next millisecond instead of wrapping.
	c.Observe(MakeHLC(20000, 0xffff))
	if n := c.Now(); n != MakeHLC(20001, 0) {
		t.Fatalf("overflow: %d,%d", n.Millis(), n.Logical())
	}
}

func TestDeterministicID(t *testing.T) {
	at := time.UnixMilli(1700000000000)
	a := DeterministicID(at, "b", "1")
	if a != DeterministicID(at, "b", "1") {
		t.Fatal("not deterministic")
	}
	if a == DeterministicID(at, "b1", "") {
		t.Fatal("parts are not length-delimited")
	}
	if a.Version() != 7 || a.Variant().String() != "RFC4122" {
		t.Fatalf("version %d variant %s", a.Version(), a.Variant())
	}
	sec, nsec := a.Time().UnixTime()
	if time.Unix(sec, nsec).UnixMilli() != at.UnixMilli() {
		t.Fatalf("timestamp %v", time.Unix(sec, nsec))
	}
}
