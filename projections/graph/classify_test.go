package graph

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/heimdallhub/heimdall/events"
)

// hlc is an HLC n milliseconds after t0.
func hlc(n int) events.HLC { return events.MakeHLC(t0.UnixMilli()+int64(n), 0) }

func observedAt(level string, h events.HLC) EntityState {
	return EntityState{Key: "k", Kind: "ipv4-addr", Value: "192.0.2.1", Observed: true, FirstSeen: t0, LastSeen: t0,
		Classification: level, Levels: LevelClock{level: h}}
}

func reclassifiedAt(level string, h events.HLC, peer string, id byte) EntityState {
	return EntityState{Key: "k", ClassifyOnly: true,
		Reclassification: Reclassification{Level: level, HLC: h, Peer: peer, EventID: uuid.UUID{15: id}}}
}

// foldAll merges states left to right.
func foldAll(ss []EntityState) EntityState {
	var out EntityState
	for _, s := range ss {
		out = MergeEntity(out, s)
	}
	return out
}

// permutations calls f with every order of ss.
func permutations(ss []EntityState, f func([]EntityState)) {
	var rec func(int)
	rec = func(i int) {
		if i == len(ss) {
			f(ss)
			return
		}
		for j := i; j < len(ss); j++ {
			ss[i], ss[j] = ss[j], ss[i]
			rec(i + 1)
			ss[i], ss[j] = ss[j], ss[i]
		}
	}
	rec(0)
}

// TestReclassificationRule: the effective level is the winning
// reclassification (greatest HLC, then peer id, then event id) raised by
// what was observed after it in HLC order, whatever order the events
// arrive in.
func TestReclassificationRule(t *testing.T) {
	for _, tc := range []struct {
		name   string
		states []EntityState
		want   string
	}{
		{"no reclassification: the highest observed",
			[]EntityState{observedAt("CONFIDENTIAL", hlc(1)), observedAt("SECRET", hlc(2)), observedAt("UNCLASSIFIED", hlc(3))}, "SECRET"},
		{"a later reclassification lowers the level",
			[]EntityState{observedAt("SECRET", hlc(1)), reclassifiedAt("UNCLASSIFIED", hlc(2), "peer-a", 1)}, "UNCLASSIFIED"},
		{"an observation after the reclassification raises it",
			[]EntityState{observedAt("SECRET", hlc(3)), reclassifiedAt("UNCLASSIFIED", hlc(2), "peer-a", 1)}, "SECRET"},
		{"an observation after the reclassification never lowers it",
			[]EntityState{observedAt("UNCLASSIFIED", hlc(3)), reclassifiedAt("SECRET", hlc(2), "peer-a", 1)}, "SECRET"},
		{"an observation before the reclassification does not raise it",
			[]EntityState{observedAt("TOP SECRET", hlc(1)), reclassifiedAt("CONFIDENTIAL", hlc(2), "peer-a", 1), observedAt("UNCLASSIFIED", hlc(3))}, "CONFIDENTIAL"},
		{"an observation at the reclassification's HLC does not raise it",
			[]EntityState{observedAt("TOP SECRET", hlc(2)), reclassifiedAt("CONFIDENTIAL", hlc(2), "peer-a", 1)}, "CONFIDENTIAL"},
		{"the latest level of an observation counts: seen before and after",
			[]EntityState{observedAt("SECRET", hlc(1)), reclassifiedAt("UNCLASSIFIED", hlc(2), "peer-a", 1), observedAt("SECRET", hlc(4))}, "SECRET"},
		{"of two reclassifications the later HLC wins",
			[]EntityState{observedAt("UNCLASSIFIED", hlc(1)), reclassifiedAt("TOP SECRET", hlc(2), "peer-z", 9), reclassifiedAt("CONFIDENTIAL", hlc(3), "peer-a", 1)}, "CONFIDENTIAL"},
		{"same HLC: the greater peer id wins",
			[]EntityState{observedAt("UNCLASSIFIED", hlc(1)), reclassifiedAt("SECRET", hlc(2), "peer-b", 1), reclassifiedAt("CONFIDENTIAL", hlc(2), "peer-a", 9)}, "SECRET"},
		{"same HLC and peer: the greater event id wins",
			[]EntityState{observedAt("UNCLASSIFIED", hlc(1)), reclassifiedAt("SECRET", hlc(2), "peer-a", 1), reclassifiedAt("CONFIDENTIAL", hlc(2), "peer-a", 2)}, "CONFIDENTIAL"},
		{"an observation between two reclassifications counts only if after the winner",
			[]EntityState{reclassifiedAt("UNCLASSIFIED", hlc(1), "peer-a", 1), observedAt("TOP SECRET", hlc(2)), reclassifiedAt("CONFIDENTIAL", hlc(3), "peer-b", 2)}, "CONFIDENTIAL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var first EntityState
			n := 0
			permutations(tc.states, func(order []EntityState) {
				got := foldAll(order)
				if got.Classification != tc.want {
					t.Fatalf("order %d: classification %q, want %q", n, got.Classification, tc.want)
				}
				if n == 0 {
					first = got
				} else if !got.Equal(first) {
					t.Fatalf("order %d: state %+v differs from %+v", n, got, first)
				}
				// Idempotent: merging any input again changes nothing.
				for _, s := range order {
					if again := MergeEntity(got, s); !again.Equal(got) {
						t.Fatalf("merging %+v again changed the state", s)
					}
				}
				n++
			})
		})
	}
}

// A reclassification alone is not observed: it holds its register until the
// record is observed; then the rule applies as if it had come after.
func TestReclassificationBeforeObservation(t *testing.T) {
	rc := reclassifiedAt("UNCLASSIFIED", hlc(5), "peer-a", 1)
	if rc.Classification != "" || rc.Observed {
		t.Fatalf("reclassification delta %+v", rc)
	}
	for _, tc := range []struct {
		obs  EntityState
		want string
	}{{observedAt("SECRET", hlc(4)), "UNCLASSIFIED"}, {observedAt("SECRET", hlc(6)), "SECRET"}} {
		a, b := MergeEntity(rc, tc.obs), MergeEntity(tc.obs, rc)
		if a.Classification != tc.want || !a.Equal(b) || a.ClassifyOnly {
			t.Fatalf("got %+v and %+v, want %s", a, b, tc.want)
		}
	}
}

func TestRelationReclassificationRule(t *testing.T) {
	obs := func(level string, h events.HLC) RelationState {
		return RelationState{Key: "r", Type: "RESOLVES_TO", SourceKey: "d", TargetKey: "i", FirstSeen: t0, LastSeen: t0,
			Classification: level, Levels: LevelClock{level: h}}
	}
	rc := func(level string, h events.HLC, peer string) RelationState {
		return RelationState{Key: "r", ClassifyOnly: true, Reclassification: Reclassification{Level: level, HLC: h, Peer: peer, EventID: uuid.UUID{1}}}
	}
	for _, tc := range []struct {
		states []RelationState
		want   string
	}{
		{[]RelationState{obs("SECRET", hlc(1)), rc("UNCLASSIFIED", hlc(2), "a")}, "UNCLASSIFIED"},
		{[]RelationState{obs("SECRET", hlc(3)), rc("UNCLASSIFIED", hlc(2), "a")}, "SECRET"},
		{[]RelationState{obs("UNCLASSIFIED", hlc(1)), rc("SECRET", hlc(2), "a"), rc("CONFIDENTIAL", hlc(2), "b")}, "CONFIDENTIAL"},
	} {
		for _, order := range [][]int{{0, 1, 2}, {2, 1, 0}, {1, 0, 2}, {1, 2, 0}} {
			var got RelationState
			for _, i := range order {
				if i < len(tc.states) {
					got = MergeRelation(got, tc.states[i])
				}
			}
			if got.Classification != tc.want || !got.FirstSeen.Equal(t0) {
				t.Fatalf("order %v: %+v, want %s", order, got, tc.want)
			}
		}
	}
}

// A state written before states kept level clocks counts its level as
// observed at HLC 0: any reclassification overrides it.
func TestLegacyStateWithoutLevels(t *testing.T) {
	legacy := EntityState{Key: "k", Kind: "ipv4-addr", Value: "v", Observed: true, FirstSeen: t0, LastSeen: t0, Classification: "SECRET"}
	got := MergeEntity(legacy, reclassifiedAt("UNCLASSIFIED", hlc(1), "a", 1))
	if got.Classification != "UNCLASSIFIED" || got.Levels["SECRET"] != 0 {
		t.Fatalf("got %+v", got)
	}
	if !MergeEntity(legacy, legacy).Equal(legacy) {
		t.Fatal("legacy state not idempotent")
	}
}

// Through the projector: the same events in either order, in one batch or
// in several, give the same state, including a reclassification that
// arrives before the record exists.
func TestProjectorReclassificationOrder(t *testing.T) {
	r := newRecs(t)
	obs := func(level string, n int, peer string) events.Event {
		e := entityEvent(ip.Key, ip.Kind, ip.Value, n)
		e.Classification, e.OriginPeer = level, peer
		return e
	}
	rc := func(level string, n int, peer string) events.Event {
		e := envelope(ip.Key, n)
		e.Type, e.OriginPeer = events.TypeClassificationChanged, peer
		e.Payload = events.ClassificationChanged{RecordType: "entity", Level: level, Reason: "review"}
		return e
	}
	es := []events.Event{
		obs("SECRET", 1, "peer-a"),
		rc("UNCLASSIFIED", 2, "peer-b"),
		rc("TOP SECRET", 2, "peer-a"), // same HLC as peer-b's: peer-b wins
		obs("CONFIDENTIAL", 3, "peer-c"),
	}
	for _, order := range [][]int{{0, 1, 2, 3}, {3, 2, 1, 0}, {1, 2, 0, 3}, {2, 3, 1, 0}} {
		for _, split := range []bool{false, true} {
			st := newMemStore()
			p, _ := New(st, r.codec, nil)
			var batch []events.LogRecord
			for _, i := range order {
				batch = append(batch, r.record(int32(i%2), es[i]))
				if split {
					if err := p.Handle(context.Background(), batch); err != nil {
						t.Fatal(err)
					}
					batch = nil
				}
			}
			if err := p.Handle(context.Background(), batch); err != nil {
				t.Fatal(err)
			}
			got := st.ents[1][ip.Key]
			if got.Classification != "CONFIDENTIAL" || got.Reclassification.Peer != "peer-b" || len(st.pending[1]) != 0 {
				t.Fatalf("order %v split %v: %+v pending %v", order, split, got, st.pending[1])
			}
		}
	}
}

// rcv is a reclassification with a vector.
func rcv(level string, h events.HLC, peer string, id byte, vec events.VersionVector) Reclassification {
	return Reclassification{Level: level, HLC: h, Peer: peer, EventID: uuid.UUID{15: id}, Vector: vec}
}

// A conflict is two different changes whose vectors are concurrent; the
// winner is the rule's, whichever argument it is; a dominated or
// dominating change, the same event again, or a missing register is none.
func TestDetectConflict(t *testing.T) {
	a := rcv("SECRET", hlc(2), "site-a", 1, events.VersionVector{"site-a": int64(hlc(2))})
	b := rcv("UNCLASSIFIED", hlc(3), "site-b", 2, events.VersionVector{"site-b": int64(hlc(3))})
	// c was made at site-c after seeing a.
	c := rcv("CONFIDENTIAL", hlc(4), "site-c", 3, a.Vector.With("site-c", int64(hlc(4))))
	for _, tc := range []struct {
		name     string
		x, y     Reclassification
		conflict bool
	}{
		{"concurrent", a, b, true},
		{"concurrent, other order", b, a, true},
		{"dominating", a, c, false},
		{"dominated", c, a, false},
		{"concurrent with a dominating one", b, c, true},
		{"the same event", a, a, false},
		{"the same event, another copy of its vector", a, rcv("SECRET", hlc(2), "site-a", 1, events.VersionVector{"site-a": int64(hlc(2)), "x": 0}), false},
		{"no register", a, Reclassification{}, false},
		{"legacy register without a vector", rcv("SECRET", hlc(1), "site-z", 9, nil), b, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := DetectConflict(RecordEntity, "k", tc.x, tc.y)
			if ok != tc.conflict {
				t.Fatalf("conflict %v, want %v", ok, tc.conflict)
			}
			if !ok {
				return
			}
			want := LaterReclassification(tc.x, tc.y)
			if !got.Winner.Equal(want) || got.Loser.EventID == want.EventID || got.Rule != RuleLWWHLC || got.RecordKey != "k" {
				t.Fatalf("conflict %+v", got)
			}
		})
	}
}

// The register keeps the winner with its vector; registers of one event
// that differ only in their vectors (a forged log) merge them, so the
// merge stays commutative, associative and idempotent.
func TestReclassificationRegisterWithVectors(t *testing.T) {
	a := rcv("SECRET", hlc(2), "site-a", 1, events.VersionVector{"site-a": 5})
	twin := rcv("SECRET", hlc(2), "site-a", 1, events.VersionVector{"site-b": 7})
	b := rcv("UNCLASSIFIED", hlc(3), "site-b", 2, events.VersionVector{"site-b": 9})
	if got := LaterReclassification(a, b); !got.Equal(b) || !LaterReclassification(b, a).Equal(b) {
		t.Fatalf("winner %+v", got)
	}
	m1, m2 := LaterReclassification(a, twin), LaterReclassification(twin, a)
	if !m1.Equal(m2) || m1.Vector["site-a"] != 5 || m1.Vector["site-b"] != 7 {
		t.Fatalf("twins merged to %+v and %+v", m1, m2)
	}
	if a.Vector["site-b"] != 0 {
		t.Fatal("merging modified an argument")
	}
	rs := []Reclassification{a, twin, b, {}}
	for _, x := range rs {
		if !LaterReclassification(x, x).Equal(x) {
			t.Fatalf("not idempotent on %+v", x)
		}
		for _, y := range rs {
			for _, z := range rs {
				l := LaterReclassification(LaterReclassification(x, y), z)
				r := LaterReclassification(x, LaterReclassification(y, z))
				if !l.Equal(r) {
					t.Fatalf("not associative: %+v %+v %+v", x, y, z)
				}
			}
		}
	}
}

// Through the projector: concurrent changes of a record are recorded as one
// conflict whether they arrive in one batch or two, and again when
// re-delivered; a change made after seeing another is none; and the
// winner is the same in every order.
func TestProjectorRecordsConflicts(t *testing.T) {
	r := newRecs(t)
	change := func(level string, n int, peer string, vec events.VersionVector) events.Event {
		e := envelope(ip.Key, n)
		e.Type, e.OriginPeer, e.Vector = events.TypeClassificationChanged, peer, vec
		e.Payload = events.ClassificationChanged{RecordType: "entity", Level: level, Reason: "review"}
		return e
	}
	obs := entityEvent(ip.Key, ip.Kind, ip.Value, 1)
	a := change("SECRET", 2, "site-a", events.VersionVector{"site-a": 2})
	b := change("UNCLASSIFIED", 3, "site-b", events.VersionVector{"site-b": 3})
	c := change("CONFIDENTIAL", 4, "site-c", events.VersionVector{"site-a": 2, "site-c": 4}) // after seeing a
	for _, tc := range []struct {
		name      string
		es        []events.Event
		conflicts int
		winner    string
	}{
		{"concurrent", []events.Event{obs, a, b}, 1, "site-b"},
		{"dominating", []events.Event{obs, a, c}, 0, "site-c"},
		{"dominating before the record", []events.Event{a, c, obs}, 0, "site-c"},
		{"both", []events.Event{obs, a, b, c}, 2, "site-c"}, // a–b and b–c, not a–c
	} {
		t.Run(tc.name, func(t *testing.T) {
			perms := [][]int{}
			var rec func([]int, []int)
			rec = func(done, left []int) {
				if len(left) == 0 {
					perms = append(perms, done)
					return
				}
				for i := range left {
					rest := append(append([]int{}, left[:i]...), left[i+1:]...)
					rec(append(append([]int{}, done...), left[i]), rest)
				}
			}
			idx := make([]int, len(tc.es))
			for i := range idx {
				idx[i] = i
			}
			rec(nil, idx)
			for _, order := range perms {
				for _, split := range []bool{false, true} {
					st := newMemStore()
					p, _ := New(st, r.codec, nil)
					var all []events.LogRecord
					for _, i := range order {
						all = append(all, r.record(0, tc.es[i]))
					}
					handle := func(recs []events.LogRecord) {
						if err := p.Handle(context.Background(), recs); err != nil {
							t.Fatal(err)
						}
					}
					if split {
						for i := range all {
							handle(all[i : i+1])
						}
					} else {
						handle(all)
					}
					n := len(st.conflicts[1])
					// Re-delivered at new offsets (a duplicate import):
					// nothing new.
					var again []events.LogRecord
					for _, i := range order {
						again = append(again, r.record(0, tc.es[i]))
					}
					handle(again)
					if len(st.conflicts[1]) != n {
						t.Fatalf("order %v split %v: re-delivery recorded %d more", order, split, len(st.conflicts[1])-n)
					}
					if n != tc.conflicts {
						t.Fatalf("order %v split %v: %d conflicts %v, want %d", order, split, n, st.conflicts[1], tc.conflicts)
					}
					if got := st.ents[1][ip.Key].Reclassification; got.Peer != tc.winner {
						t.Fatalf("order %v split %v: winner %+v", order, split, got)
					}
					for _, c := range st.conflicts[1] {
						if c.RecordType != RecordEntity || c.RecordKey != ip.Key || c.Loser.Peer == tc.winner {
							t.Fatalf("conflict %+v", c)
						}
					}
				}
			}
		})
	}
}
