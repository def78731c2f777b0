package graph

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/heimdallhub/heimdall/events"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func TestMergeEntity(t *testing.T) {
	obs := func(at time.Time, source, class string, vec events.VersionVector, attrs ...string) EntityState {
		s := EntityState{Key: "k", Kind: "ipv4-addr", Value: "192.0.2.1", Observed: true, FirstSeen: at, LastSeen: at,
			Vector: vec, Classification: class}
		if source != "" {
			s.Sources = []string{source}
		}
		for i := 0; i+1 < len(attrs); i += 2 {
			s.Attributes = MergeAttributes(s.Attributes, Attributes{attrs[i]: {attrs[i+1]}})
		}
		return s
	}
	endpoint := EntityState{Key: "k", Kind: "ipv4-addr", Value: "192.0.2.1"}
	for _, tc := range []struct {
		name string
		a, b EntityState
		want EntityState
	}{
		{
			name: "times widen, sources union sorted",
			a:    obs(t0.Add(time.Hour), "zeek", "UNCLASSIFIED", nil),
			b:    obs(t0, "csv", "UNCLASSIFIED", nil),
			want: EntityState{Key: "k", Kind: "ipv4-addr", Value: "192.0.2.1", Observed: true,
				FirstSeen: t0, LastSeen: t0.Add(time.Hour), Sources: []string{"csv", "zeek"}, Classification: "UNCLASSIFIED"},
		},
		{
			name: "vector element-wise max",
			a:    obs(t0, "s", "SECRET", events.VersionVector{"a": 5, "b": 1}),
			b:    obs(t0, "s", "SECRET", events.VersionVector{"a": 3, "c": 9}),
			want: EntityState{Key: "k", Kind: "ipv4-addr", Value: "192.0.2.1", Observed: true, FirstSeen: t0, LastSeen: t0,
				Sources: []string{"s"}, Vector: events.VersionVector{"a": 5, "b": 1, "c": 9}, Classification: "SECRET"},
		},
		{
			name: "attributes keep a sorted set of values per name",
			a:    obs(t0, "", "CONFIDENTIAL", nil, "rrtype", "A", "port", "53"),
			b:    obs(t0, "", "CONFIDENTIAL", nil, "rrtype", "AAAA", "rrtype", "A"),
			want: EntityState{Key: "k", Kind: "ipv4-addr", Value: "192.0.2.1", Observed: true, FirstSeen: t0, LastSeen: t0,
				Attributes: Attributes{"rrtype": {"A", "AAAA"}, "port": {"53"}}, Classification: "CONFIDENTIAL"},
		},
		{
			name: "highest classification wins",
			a:    obs(t0, "", "secret", nil),
			b:    obs(t0, "", "CONFIDENTIAL", nil),
			want: EntityState{Key: "k", Kind: "ipv4-addr", Value: "192.0.2.1", Observed: true, FirstSeen: t0, LastSeen: t0,
				Classification: "SECRET", Levels: LevelClock{"SECRET": 0, "CONFIDENTIAL": 0}},
		},
		{
			name: "empty classification ranks highest",
			a:    obs(t0, "", "TOP SECRET", nil),
			b:    obs(t0, "", "", nil),
			want: EntityState{Key: "k", Kind: "ipv4-addr", Value: "192.0.2.1", Observed: true, FirstSeen: t0, LastSeen: t0,
				Classification: "", Levels: LevelClock{"": 0, "TOP SECRET": 0}},
		},
		{
			name: "endpoint adds nothing to an observed state",
			a:    obs(t0, "zeek", "SECRET", events.VersionVector{"a": 1}),
			b:    endpoint,
			want: obs(t0, "zeek", "SECRET", events.VersionVector{"a": 1}),
		},
		{
			name: "endpoint with endpoint stays unobserved",
			a:    endpoint,
			b:    endpoint,
			want: endpoint,
		},
		{
			name: "conflicting values keep the smallest non-empty",
			a:    EntityState{Key: "k", Kind: "ipv4-addr", Value: "b"},
			b:    EntityState{Key: "k", Kind: "", Value: "a"},
			want: EntityState{Key: "k", Kind: "ipv4-addr", Value: "a"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := MergeEntity(tc.a, tc.b); !got.Equal(tc.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
			if got := MergeEntity(tc.b, tc.a); !got.Equal(tc.want) {
				t.Fatalf("reversed: got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestMergeEntityDoesNotModifyArguments(t *testing.T) {
	a := EntityState{Key: "k", Observed: true, Sources: []string{"b"}, Attributes: Attributes{"x": {"2"}}, Vector: events.VersionVector{"p": 1}}
	b := EntityState{Key: "k", Observed: true, Sources: []string{"a", "c"}, Attributes: Attributes{"x": {"1", "3"}}, Vector: events.VersionVector{"p": 2}}
	_ = MergeEntity(a, b)
	_ = MergeEntity(b, a)
	if len(a.Sources) != 1 || a.Sources[0] != "b" || len(a.Attributes["x"]) != 1 || a.Vector["p"] != 1 {
		t.Fatalf("a modified: %+v", a)
	}
	if len(b.Sources) != 2 || len(b.Attributes["x"]) != 2 || b.Vector["p"] != 2 {
		t.Fatalf("b modified: %+v", b)
	}
}

func TestMergeRelation(t *testing.T) {
	a := RelationState{Key: "r", Type: "RESOLVES_TO", SourceKey: "d", TargetKey: "i", FirstSeen: t0, LastSeen: t0,
		Sources: []string{"zeek"}, Vector: events.VersionVector{"a": 2}, Attributes: Attributes{"rrtype": {"A"}}, Classification: "UNCLASSIFIED"}
	b := RelationState{Key: "r", Type: "RESOLVES_TO", SourceKey: "d", TargetKey: "i", FirstSeen: t0.Add(-time.Minute), LastSeen: t0.Add(time.Minute),
		Sources: []string{"csv"}, Vector: events.VersionVector{"b": 1}, Attributes: Attributes{"rrtype": {"AAAA"}}, Classification: "TOP_SECRET"}
	want := RelationState{Key: "r", Type: "RESOLVES_TO", SourceKey: "d", TargetKey: "i", FirstSeen: t0.Add(-time.Minute), LastSeen: t0.Add(time.Minute),
		Sources: []string{"csv", "zeek"}, Vector: events.VersionVector{"a": 2, "b": 1}, Attributes: Attributes{"rrtype": {"A", "AAAA"}}, Classification: "TOP SECRET",
		Levels: LevelClock{"UNCLASSIFIED": 0, "TOP SECRET": 0}}
	if got := MergeRelation(a, b); !got.Equal(want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	if got := MergeRelation(MergeRelation(a, b), a); !got.Equal(want) {
		t.Fatal("not idempotent")
	}
	// The zero state is the identity.
	if got := MergeRelation(RelationState{}, a); !got.Equal(a) {
		t.Fatalf("zero is not the identity: %+v", got)
	}
}

func TestClassification(t *testing.T) {
	for _, tc := range []struct {
		a, b, want string
	}{
		{"UNCLASSIFIED", "CONFIDENTIAL", "CONFIDENTIAL"},
		{"SECRET", "CONFIDENTIAL", "SECRET"},
		{"top secret", "SECRET", "TOP SECRET"},
		{"TOP SECRET", "", ""},
		{"TOP SECRET", "NATO RESTRICTED", "NATO RESTRICTED"},
		{"", "X", "X"}, // two unknowns: the larger string, whatever the order
		{" unclassified ", "UNCLASSIFIED", "UNCLASSIFIED"},
	} {
		if got := HigherClassification(tc.a, tc.b); got != tc.want {
			t.Errorf("HigherClassification(%q, %q) = %q, want %q", tc.a, tc.b, got, tc.want)
		}
		if got := HigherClassification(tc.b, tc.a); got != tc.want {
			t.Errorf("HigherClassification(%q, %q) = %q, want %q", tc.b, tc.a, got, tc.want)
		}
	}
}

func TestLabels(t *testing.T) {
	for kind, want := range map[string]string{
		"ipv4-addr": "IPv4", "ipv6-addr": "IPv6", "domain-name": "Domain", "url": "URL", "file": "File",
		"email-addr": "Email", "mac-addr": "MAC", "host": "Host", "user-account": "User",
		"alert-signature": "Signature", "user-agent": "UserAgent", "autonomous-system": "AS",
		"x509-certificate": "Certificate", "windows-registry-key": "Observable", "": "Observable",
	} {
		if got := VertexLabel(kind); got != want {
			t.Errorf("VertexLabel(%q) = %q, want %q", kind, got, want)
		}
	}
	for typ, want := range map[string]bool{
		"RESOLVES_TO": true, "A": true, "CONNECTED_TO_2": true, "X" + string(make([]byte, 0)): true,
		"resolves_to": false, "1ABC": false, "_X": false, "": false, "RESOLVES-TO": false, "A B": false,
		"A23456789012345678901234567890123456789012345678901234567890123":  true,  // 63 characters
		"A234567890123456789012345678901234567890123456789012345678901234": false, // 64
		"AS": false, "URL": false, "MAC": false, // vertex labels
		"RESOLVES_TO\n": false,
	} {
		if got := ValidEdgeLabel(typ); got != want {
			t.Errorf("ValidEdgeLabel(%q) = %v, want %v", typ, got, want)
		}
	}
}

func TestVertexProperties(t *testing.T) {
	s := EntityState{Key: "ipv4-addr--1", Kind: "ipv4-addr", Value: "192.0.2.1", Observed: true,
		FirstSeen: t0, LastSeen: t0.Add(1500 * time.Millisecond), Sources: []string{"a", "b"},
		Vector: events.VersionVector{"p": 1}, Classification: "SECRET"}
	b := VertexProperties(s)
	want := `{"key":"ipv4-addr--1","kind":"ipv4-addr","value":"192.0.2.1","first_seen":"2026-11-27T12:00:00.000000Z","last_seen":"2026-11-27T12:00:01.500000Z","sources":["a","b"],"classification":"SECRET"}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	b = VertexProperties(EntityState{Key: "k", Kind: "url", Value: "u"})
	if want := `{"key":"k","kind":"url","value":"u","sources":[]}`; string(b) != want {
		t.Fatalf("endpoint-only: got %s, want %s", b, want)
	}
}

// randomEntityDeltas builds deltas as the projector does from random events
// about a few keys, including endpoint-only states.
func randomEntityDeltas(r *rand.Rand, n int) []EntityState {
	keys := []string{"k1", "k2", "k3"}
	classes := []string{"UNCLASSIFIED", "CONFIDENTIAL", "SECRET", "TOP SECRET", "", "OTHER", "secret"}
	sources := []string{"", "zeek", "csv", "eve", "cef"}
	peers := []string{"a", "b", "c"}
	out := make([]EntityState, n)
	for i := range out {
		k := keys[r.IntN(len(keys))]
		if r.IntN(4) == 0 {
			out[i] = EntityState{Key: k, Kind: "ipv4-addr", Value: "v-" + k}
			continue
		}
		if r.IntN(5) == 0 {
			// A reclassification with its vector; a few share an
			// identity with different vectors (a forged log).
			rc := Reclassification{Level: classes[r.IntN(4)], HLC: events.HLC(1 + r.IntN(4)), Peer: peers[r.IntN(len(peers))],
				EventID: uuid.UUID{15: byte(r.IntN(4))}, Vector: events.VersionVector{}}
			for _, p := range peers {
				if r.IntN(2) == 0 {
					rc.Vector[p] = int64(r.IntN(4))
				}
			}
			out[i] = EntityState{Key: k, Reclassification: rc, ClassifyOnly: true}
			continue
		}
		at := t0.Add(time.Duration(r.IntN(1000)) * time.Second)
		e := events.Event{Key: k, Classification: classes[r.IntN(len(classes))],
			Provenance: events.Provenance{Source: sources[r.IntN(len(sources))]},
			Vector:     events.VersionVector{peers[r.IntN(len(peers))]: int64(r.IntN(10))}}
		var attrs []events.Attribute
		for j := r.IntN(3); j > 0; j-- {
			attrs = append(attrs, events.Attribute{Name: fmt.Sprint("n", r.IntN(2)), Value: fmt.Sprint("v", r.IntN(3))})
		}
		out[i] = entityDelta(e, events.EntityObserved{Kind: "ipv4-addr", Value: "v-" + k, ObservedAt: at, Attributes: attrs})
	}
	return out
}

func randomRelationDeltas(r *rand.Rand, n int) []RelationState {
	out := make([]RelationState, n)
	for i := range out {
		k := fmt.Sprint("r", r.IntN(3))
		e := events.Event{Key: k, Classification: []string{"UNCLASSIFIED", "SECRET", "", "Z"}[r.IntN(4)],
			Provenance: events.Provenance{Source: []string{"", "a", "b"}[r.IntN(3)]},
			Vector:     events.VersionVector{[]string{"a", "b"}[r.IntN(2)]: int64(r.IntN(10))}}
		out[i] = relationDelta(e, events.RelationObserved{RelationType: "RESOLVES_TO",
			Source: events.Endpoint{Key: "s-" + k}, Target: events.Endpoint{Key: "t-" + k},
			ObservedAt: t0.Add(time.Duration(r.IntN(1000)) * time.Second),
			Attributes: []events.Attribute{{Name: "x", Value: fmt.Sprint(r.IntN(3))}}})
	}
	return out
}

// foldEntities merges states per key, in order.
func foldEntities(ss []EntityState) map[string]EntityState {
	out := map[string]EntityState{}
	for _, s := range ss {
		out[s.Key] = MergeEntity(out[s.Key], s)
	}
	return out
}

// treeMerge merges states per key in a random bracketing: it splits the list
// at a random point, merges each half recursively, then merges the halves.
func treeMerge(r *rand.Rand, ss []EntityState) map[string]EntityState {
	if len(ss) <= 2 {
		return foldEntities(ss)
	}
	cut := 1 + r.IntN(len(ss)-1)
	left, right := treeMerge(r, ss[:cut]), treeMerge(r, ss[cut:])
	for k, s := range right {
		left[k] = MergeEntity(left[k], s)
	}
	return left
}

func equalStates(a, b map[string]EntityState) bool {
	if len(a) != len(b) {
		return false
	}
	for k, s := range a {
		if !s.Equal(b[k]) {
			return false
		}
	}
	return true
}

// TestMergeLaws is the property test of the merge rules: for random event
// sets, any order, any bracketing and any number of duplicates give the same
// states (commutative, associative, idempotent).
func TestMergeLaws(t *testing.T) {
	for seed := range uint64(300) {
		r := rand.New(rand.NewPCG(seed, 42))
		deltas := randomEntityDeltas(r, 1+r.IntN(25))
		want := foldEntities(deltas)

		// Shuffled, with random duplicates.
		shuffled := append([]EntityState(nil), deltas...)
		for i := r.IntN(len(deltas) + 1); i > 0; i-- {
			shuffled = append(shuffled, deltas[r.IntN(len(deltas))])
		}
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		if got := foldEntities(shuffled); !equalStates(got, want) {
			t.Fatalf("seed %d: order or duplicates changed the result\ngot  %+v\nwant %+v", seed, got, want)
		}
		// Random bracketing.
		if got := treeMerge(r, shuffled); !equalStates(got, want) {
			t.Fatalf("seed %d: bracketing changed the result\ngot  %+v\nwant %+v", seed, got, want)
		}
		// Re-applying the whole set to the result changes nothing.
		again := foldEntities(append(mapValues(want), deltas...))
		if !equalStates(again, want) {
			t.Fatalf("seed %d: not idempotent", seed)
		}

		rels := randomRelationDeltas(r, 1+r.IntN(25))
		wantR := map[string]RelationState{}
		for _, x := range rels {
			wantR[x.Key] = MergeRelation(wantR[x.Key], x)
		}
		dup := append(append([]RelationState(nil), rels...), rels[:r.IntN(len(rels))]...)
		r.Shuffle(len(dup), func(i, j int) { dup[i], dup[j] = dup[j], dup[i] })
		gotR := map[string]RelationState{}
		for _, x := range dup {
			gotR[x.Key] = MergeRelation(gotR[x.Key], x)
		}
		for k, w := range wantR {
			if !gotR[k].Equal(w) {
				t.Fatalf("seed %d: relation %s differs\ngot  %+v\nwant %+v", seed, k, gotR[k], w)
			}
		}
	}
}

func mapValues(m map[string]EntityState) []EntityState {
	out := make([]EntityState, 0, len(m))
	for _, s := range m {
		out = append(out, s)
	}
	return out
}

// TestAppendJSON: the hand-written encoders produce JSON that decodes back to
// the same values, for arbitrary strings.
func TestAppendJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "Z", "\"", "\\", "\n", "\t", "\x00", "\x1f", "é", "€", "😀", "\u2028", "<", "&", "\xff"}
	for range 2000 {
		var sb strings.Builder
		for j := r.IntN(12); j > 0; j-- {
			sb.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		s := sb.String()
		var got string
		if err := json.Unmarshal(AppendJSONString(nil, s), &got); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if want := strings.ToValidUTF8(s, "\uFFFD"); got != want && utf8.ValidString(s) {
			t.Fatalf("%q decoded as %q", s, got)
		}
	}
	v := events.VersionVector{"b": 2, "a": 1 << 60}
	a := Attributes{"y": {"1", "2"}, "x": {"\""}}
	var gv events.VersionVector
	var ga Attributes
	if err := json.Unmarshal(AppendJSONVector(nil, v), &gv); err != nil || gv.Compare(v) != events.Equal {
		t.Fatalf("vector %v %v", gv, err)
	}
	if err := json.Unmarshal(AppendJSONAttributes(nil, a), &ga); err != nil || !ga.Equal(a) {
		t.Fatalf("attributes %v %v", ga, err)
	}
	var props map[string]any
	if err := json.Unmarshal(EdgeProperties(RelationState{Key: "r\"1", FirstSeen: t0, LastSeen: t0, Classification: "SECRET"}), &props); err != nil ||
		props["key"] != "r\"1" || props["first_seen"] != "2026-11-27T12:00:00.000000Z" {
		t.Fatalf("edge properties %v %v", props, err)
	}
}
