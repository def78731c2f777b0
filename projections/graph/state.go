package graph

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/heimdallhub/heimdall/events"
)

// EntityState is the merged state of one vertex: everything the log has said
// about one canonical key. States merge with MergeEntity, which is
// commutative, associative and idempotent, so the result never depends on
// the order events arrive in, or on how often.
type EntityState struct {
	Key   string
	Kind  string
	Value string
	// Observed is false for a vertex known only as the endpoint of a
	// relation: it has a kind and a value but no times, sources, vector,
	// attributes or classification of its own.
	Observed   bool
	FirstSeen  time.Time // earliest observed_at; zero unless Observed
	LastSeen   time.Time // latest observed_at; zero unless Observed
	Sources    []string  // sorted set of provenance sources
	Vector     events.VersionVector
	Attributes Attributes
	// Classification is the effective level (see Effective), derived from
	// Reclassification and Levels; meaningful when Observed.
	Classification string
	// Reclassification is the winning classification.changed event about
	// the record (zero if none), Levels the latest HLC at which each level
	// was observed. Both are stored beside the state and merge by maximum;
	// neither is shown by the query API.
	Reclassification Reclassification
	Levels           LevelClock

	// ClassifyOnly marks a delta that holds nothing but a
	// reclassification: it never creates a record. It is not stored.
	ClassifyOnly bool
}

// Label is the vertex label of the state's kind.
func (s EntityState) Label() string { return VertexLabel(s.Kind) }

// RelationState is the merged state of one edge, keyed by the relationship
// key; it merges with MergeRelation under the same laws as EntityState.
type RelationState struct {
	Key            string
	Type           string // relation type, the edge label
	SourceKey      string
	TargetKey      string
	FirstSeen      time.Time
	LastSeen       time.Time
	Sources        []string
	Vector         events.VersionVector
	Attributes     Attributes
	Classification string // effective level, as EntityState.Classification

	Reclassification Reclassification // as EntityState.Reclassification
	Levels           LevelClock       // as EntityState.Levels
	ClassifyOnly     bool             // as EntityState.ClassifyOnly
}

// Reclassification is one classification.changed event as a
// last-writer-wins register: of two, the one with the greater (HLC, Peer,
// EventID) wins (Level breaks a tie that only a forged log can hold). The
// zero value is "never reclassified" and loses to any other.
//
// Vector is the event's version vector: it does not take part in choosing
// the winner, but tells whether two reclassifications were made one after
// seeing the other (their vectors are ordered) or concurrently, which is a
// conflict (DetectConflict). The classify command gives a change an HLC
// greater than the one it supersedes and a vector dominating it, so the
// order by HLC agrees with the vectors. Registers stored before they kept
// vectors have none (an empty vector, dominated by any other).
type Reclassification struct {
	Level   string
	HLC     events.HLC
	Peer    string // origin peer of the event
	EventID uuid.UUID
	Vector  events.VersionVector
}

// Set reports whether r is a reclassification (not the zero value).
func (r Reclassification) Set() bool {
	return r.HLC != 0 || r.Peer != "" || r.EventID != uuid.Nil || r.Level != "" || len(r.Vector) > 0
}

// same reports whether r and o are the same event: equal but for their
// vectors.
func (r Reclassification) same(o Reclassification) bool {
	return r.HLC == o.HLC && r.Peer == o.Peer && r.EventID == o.EventID && r.Level == o.Level
}

// Equal reports whether r and o are the same register (vectors compare by
// their ordering, a missing peer counting as zero).
func (r Reclassification) Equal(o Reclassification) bool {
	return r.same(o) && r.Vector.Compare(o.Vector) == events.Equal
}

// After reports whether r wins over o.
func (r Reclassification) After(o Reclassification) bool {
	switch {
	case !o.Set():
		return r.Set()
	case !r.Set():
		return false
	case r.HLC != o.HLC:
		return r.HLC > o.HLC
	case r.Peer != o.Peer:
		return r.Peer > o.Peer
	}
	if c := bytes.Compare(r.EventID[:], o.EventID[:]); c != 0 {
		return c > 0
	}
	return r.Level > o.Level
}

// LaterReclassification returns the winner of a and b. Two registers of
// the same event (equal but for their vectors, which only a forged log
// holds) merge their vectors, so the result never depends on the order of
// the arguments.
func LaterReclassification(a, b Reclassification) Reclassification {
	switch {
	case !b.Set():
		return a
	case !a.Set():
		return b
	case b.After(a):
		return b
	case a.After(b):
		return a
	}
	switch a.Vector.Compare(b.Vector) {
	case events.Equal, events.After:
		return a
	case events.Before:
		return b
	}
	a.Vector = a.Vector.Merge(b.Vector)
	return a
}

// LevelClock maps a classification level (normalised) to the greatest HLC
// at which an observation with that level was seen. Clocks merge by the
// maximum per level.
type LevelClock map[string]events.HLC

// MergeLevels returns the per-level maximum of a and b (nil if both are
// empty). Its arguments are not modified.
func MergeLevels(a, b LevelClock) LevelClock {
	if len(a) == 0 && len(b) == 0 {
		return nil
	}
	out := make(LevelClock, len(a)+len(b))
	for l, h := range a {
		out[l] = h
	}
	for l, h := range b {
		if old, ok := out[l]; !ok || h > old {
			out[l] = h
		}
	}
	return out
}

// Equal reports whether a and b hold the same levels and clocks.
func (a LevelClock) Equal(b LevelClock) bool {
	if len(a) != len(b) {
		return false
	}
	for l, h := range a {
		if g, ok := b[l]; !ok || g != h {
			return false
		}
	}
	return true
}

// Effective is the classification a record has: the winning
// reclassification's level, raised by every level observed at an HLC
// greater than the reclassification's; without a reclassification, the
// highest level observed. It is "" (which ranks highest) when there is
// neither.
func Effective(r Reclassification, levels LevelClock) string {
	out, have := "", false
	if r.Set() {
		out, have = NormalizeClassification(r.Level), true
	}
	for l, h := range levels {
		if r.Set() && h <= r.HLC {
			continue
		}
		if !have {
			out, have = NormalizeClassification(l), true
			continue
		}
		out = HigherClassification(out, l)
	}
	return out
}

// levelsOf is the level clock of s. A state observed without one (written
// before states kept clocks) counts its classification as observed at HLC
// 0, which any reclassification overrides.
func (s EntityState) levelsOf() LevelClock {
	if len(s.Levels) == 0 && s.Observed {
		return LevelClock{NormalizeClassification(s.Classification): 0}
	}
	return s.Levels
}

func (r RelationState) levelsOf() LevelClock {
	if len(r.Levels) == 0 && !r.ClassifyOnly && r.Key != "" {
		return LevelClock{NormalizeClassification(r.Classification): 0}
	}
	return r.Levels
}

// Attributes maps an attribute name to the sorted set of values seen for it.
type Attributes map[string][]string

// AttributesOf builds the attribute set of an event's attribute list.
func AttributesOf(as []events.Attribute) Attributes {
	if len(as) == 0 {
		return nil
	}
	out := make(Attributes, len(as))
	for _, a := range as {
		out[a.Name] = insertSorted(out[a.Name], a.Value)
	}
	return out
}

// MergeAttributes returns the union of a and b: for each name, the sorted set
// union of their values. Its arguments are not modified.
func MergeAttributes(a, b Attributes) Attributes {
	if len(a) == 0 && len(b) == 0 {
		return nil
	}
	out := make(Attributes, len(a)+len(b))
	for n, vs := range a {
		out[n] = slices.Clone(vs)
	}
	for n, vs := range b {
		out[n] = unionSorted(out[n], vs)
	}
	return out
}

// Equal reports whether a and b hold the same names and values.
func (a Attributes) Equal(b Attributes) bool {
	if len(a) != len(b) {
		return false
	}
	for n, vs := range a {
		ws, ok := b[n]
		if !ok || !slices.Equal(vs, ws) {
			return false
		}
	}
	return true
}

// MergeEntity merges two states of the same key. Kind and value keep the
// smallest non-empty string (they are equal for a well-formed log, as the key
// is derived from them); times widen; sources, vector entries and attribute
// values are set unions; the reclassification register keeps the winner and
// the level clock the latest HLC per level, and the classification is
// derived from both (Effective; see the package documentation). A state
// known only as an endpoint contributes nothing but its key, kind and value
// (and a reclassification, if it carries one).
func MergeEntity(a, b EntityState) EntityState {
	out := EntityState{
		Key:      minNonEmpty(a.Key, b.Key),
		Kind:     minNonEmpty(a.Kind, b.Kind),
		Value:    minNonEmpty(a.Value, b.Value),
		Observed: a.Observed || b.Observed,
	}
	switch {
	case a.Observed && b.Observed:
		out.FirstSeen = minTime(a.FirstSeen, b.FirstSeen)
		out.LastSeen = maxTime(a.LastSeen, b.LastSeen)
	case a.Observed:
		out.FirstSeen, out.LastSeen = a.FirstSeen, a.LastSeen
	case b.Observed:
		out.FirstSeen, out.LastSeen = b.FirstSeen, b.LastSeen
	}
	out.Sources = unionSorted(slices.Clone(a.Sources), b.Sources)
	out.Vector = mergeVector(a.Vector, b.Vector)
	out.Attributes = MergeAttributes(a.Attributes, b.Attributes)
	out.Reclassification = LaterReclassification(a.Reclassification, b.Reclassification)
	out.Levels = MergeLevels(a.levelsOf(), b.levelsOf())
	if out.Observed {
		out.Classification = Effective(out.Reclassification, out.Levels)
	}
	out.ClassifyOnly = a.ClassifyOnly && b.ClassifyOnly
	return out
}

// MergeRelation merges two states of the same relationship key, with the
// rules of MergeEntity. The zero RelationState (no key) is the identity.
func MergeRelation(a, b RelationState) RelationState {
	switch {
	case a.Key == "" && b.Key == "":
		return RelationState{}
	case a.Key == "":
		a = b
	case b.Key == "":
		b = a
	}
	fs, ls := minTime(a.FirstSeen, b.FirstSeen), maxTime(a.LastSeen, b.LastSeen)
	switch {
	case a.ClassifyOnly && !b.ClassifyOnly:
		fs, ls = b.FirstSeen, b.LastSeen
	case b.ClassifyOnly && !a.ClassifyOnly:
		fs, ls = a.FirstSeen, a.LastSeen
	}
	out := RelationState{
		Key:          minNonEmpty(a.Key, b.Key),
		Type:         minNonEmpty(a.Type, b.Type),
		SourceKey:    minNonEmpty(a.SourceKey, b.SourceKey),
		TargetKey:    minNonEmpty(a.TargetKey, b.TargetKey),
		FirstSeen:    fs,
		LastSeen:     ls,
		Sources:      unionSorted(slices.Clone(a.Sources), b.Sources),
		Vector:       mergeVector(a.Vector, b.Vector),
		Attributes:   MergeAttributes(a.Attributes, b.Attributes),
		ClassifyOnly: a.ClassifyOnly && b.ClassifyOnly,

		Reclassification: LaterReclassification(a.Reclassification, b.Reclassification),
		Levels:           MergeLevels(a.levelsOf(), b.levelsOf()),
	}
	out.Classification = Effective(out.Reclassification, out.Levels)
	return out
}

// Equal reports whether s and o are the same state. Vectors compare by their
// ordering (a missing peer counts as zero), times by instant.
func (s EntityState) Equal(o EntityState) bool {
	return s.Key == o.Key && s.Kind == o.Kind && s.Value == o.Value && s.Observed == o.Observed &&
		s.FirstSeen.Equal(o.FirstSeen) && s.LastSeen.Equal(o.LastSeen) &&
		slices.Equal(s.Sources, o.Sources) && s.Vector.Compare(o.Vector) == events.Equal &&
		s.Attributes.Equal(o.Attributes) && s.Classification == o.Classification &&
		s.Reclassification.Equal(o.Reclassification) && s.levelsOf().Equal(o.levelsOf())
}

// Equal reports whether r and o are the same state.
func (r RelationState) Equal(o RelationState) bool {
	return r.Key == o.Key && r.Type == o.Type && r.SourceKey == o.SourceKey && r.TargetKey == o.TargetKey &&
		r.FirstSeen.Equal(o.FirstSeen) && r.LastSeen.Equal(o.LastSeen) &&
		slices.Equal(r.Sources, o.Sources) && r.Vector.Compare(o.Vector) == events.Equal &&
		r.Attributes.Equal(o.Attributes) && r.Classification == o.Classification &&
		r.Reclassification.Equal(o.Reclassification) && r.levelsOf().Equal(o.levelsOf())
}

// DefaultLevels are the classification levels unless SetLevels says
// otherwise, lowest first.
var DefaultLevels = []string{"UNCLASSIFIED", "CONFIDENTIAL", "SECRET", "TOP SECRET"}

// levels holds the configured levels (a []string), lowest first. A string
// that is none of them (or is empty) ranks above the highest: what the
// policy does not name is treated as the highest classification.
var levels atomic.Value

func init() { levels.Store(slices.Clone(DefaultLevels)) }

func currentLevels() []string { return levels.Load().([]string) }

// SetLevels configures the classification levels, lowest first (every
// process of a deployment must use the same, before it reads or projects
// anything). Names are upper-cased; they must be distinct and non-empty.
func SetLevels(ls []string) error {
	if len(ls) == 0 {
		return errors.New("classification levels: none given")
	}
	out := make([]string, 0, len(ls))
	for _, l := range ls {
		n := strings.ReplaceAll(strings.ToUpper(strings.TrimSpace(l)), "_", " ")
		if n == "" || slices.Contains(out, n) {
			return fmt.Errorf("classification levels: %q is empty or given twice", l)
		}
		out = append(out, n)
	}
	levels.Store(out)
	return nil
}

// Levels returns the classification levels, lowest first.
func Levels() []string { return slices.Clone(currentLevels()) }

// NormalizeClassification returns the canonical spelling of a known level
// (case, surrounding space and an underscore for the space are forgiven), or
// s unchanged.
func NormalizeClassification(s string) string {
	n := strings.ReplaceAll(strings.ToUpper(strings.TrimSpace(s)), "_", " ")
	if slices.Contains(currentLevels(), n) {
		return n
	}
	return s
}

// ClassificationRank orders classifications: 0 for the lowest level up to
// len(Levels())-1 for the highest, and len(Levels()) for anything unknown or
// empty.
func ClassificationRank(s string) int {
	ls := currentLevels()
	if i := slices.Index(ls, NormalizeClassification(s)); i >= 0 {
		return i
	}
	return len(ls)
}

// HigherClassification returns the higher of a and b, normalised. Two unknown
// strings rank equal and the larger string wins, so the choice does not
// depend on argument order.
func HigherClassification(a, b string) string {
	a, b = NormalizeClassification(a), NormalizeClassification(b)
	ra, rb := ClassificationRank(a), ClassificationRank(b)
	switch {
	case ra > rb:
		return a
	case rb > ra:
		return b
	}
	return max(a, b)
}

// Vertex labels by observable kind; other kinds get LabelObservable.
var vertexLabels = map[string]string{
	"ipv4-addr":         "IPv4",
	"ipv6-addr":         "IPv6",
	"domain-name":       "Domain",
	"url":               "URL",
	"file":              "File",
	"email-addr":        "Email",
	"mac-addr":          "MAC",
	"host":              "Host",
	"user-account":      "User",
	"alert-signature":   "Signature",
	"user-agent":        "UserAgent",
	"autonomous-system": "AS",
	"x509-certificate":  "Certificate",
}

// LabelObservable is the vertex label of kinds without their own label.
const LabelObservable = "Observable"

// VertexLabel is the vertex label of an observable kind.
func VertexLabel(kind string) string {
	if l, ok := vertexLabels[kind]; ok {
		return l
	}
	return LabelObservable
}

// VertexLabels lists every vertex label the projector may create.
func VertexLabels() []string {
	out := []string{LabelObservable}
	for _, l := range vertexLabels {
		out = append(out, l)
	}
	slices.Sort(out)
	return out
}

var edgeLabel = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,62}$`)

// ValidEdgeLabel reports whether a relation type can be an edge label: it
// matches ^[A-Z][A-Z0-9_]{0,62}$ and is not also a vertex label (AGE label
// names are shared by vertices and edges of a graph).
func ValidEdgeLabel(t string) bool {
	if !edgeLabel.MatchString(t) {
		return false
	}
	for _, l := range vertexLabels {
		if l == t {
			return false
		}
	}
	return true
}

func minNonEmpty(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return min(a, b)
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func mergeVector(a, b events.VersionVector) events.VersionVector {
	if len(a) == 0 && len(b) == 0 {
		return nil
	}
	return a.Merge(b)
}

// insertSorted adds v to the sorted set s.
func insertSorted(s []string, v string) []string {
	i, found := slices.BinarySearch(s, v)
	if found {
		return s
	}
	return slices.Insert(s, i, v)
}

// unionSorted adds the values of b to the sorted set a (which it may modify)
// and returns the result. b need not be sorted.
func unionSorted(a, b []string) []string {
	for _, v := range b {
		a = insertSorted(a, v)
	}
	return a
}
