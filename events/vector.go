package events

import "sort"

// VersionVector maps a peer id to that peer's counter for one record.
// The zero value is an empty vector. Vectors are values: methods never
// modify their receiver.
type VersionVector map[string]int64

// Ordering is the causal relation between two version vectors.
type Ordering int

// Orderings of version vectors.
const (
	Equal Ordering = iota
	Before
	After
	Concurrent
)

func (o Ordering) String() string {
	return [...]string{"equal", "before", "after", "concurrent"}[o]
}

// Compare tells how v relates to w: Before when v is dominated by w, After
// when v dominates w, Equal, or Concurrent.
func (v VersionVector) Compare(w VersionVector) Ordering {
	less, greater := false, false
	for p, c := range v {
		switch d := w[p]; {
		case c < d:
			less = true
		case c > d:
			greater = true
		}
	}
	for p, d := range w {
		if _, ok := v[p]; !ok && d > 0 {
			less = true
		}
	}
	switch {
	case less && greater:
		return Concurrent
	case less:
		return Before
	case greater:
		return After
	}
	return Equal
}

// Merge returns the element-wise maximum of v and w.
func (v VersionVector) Merge(w VersionVector) VersionVector {
	out := make(VersionVector, len(v)+len(w))
	for p, c := range v {
		out[p] = c
	}
	for p, c := range w {
		if c > out[p] {
			out[p] = c
		}
	}
	return out
}

// With returns a copy of v with peer's counter raised to at least c.
func (v VersionVector) With(peer string, c int64) VersionVector {
	return v.Merge(VersionVector{peer: c})
}

// Entries returns the vector as entries sorted by peer id.
func (v VersionVector) Entries() []VersionEntry {
	out := make([]VersionEntry, 0, len(v))
	for p, c := range v {
		out = append(out, VersionEntry{Peer: p, Counter: c})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Peer < out[j].Peer })
	return out
}

// VectorFromEntries builds a vector from entries, keeping the highest counter
// of a repeated peer.
func VectorFromEntries(es []VersionEntry) VersionVector {
	v := make(VersionVector, len(es))
	for _, e := range es {
		if e.Counter > v[e.Peer] {
			v[e.Peer] = e.Counter
		}
	}
	return v
}
