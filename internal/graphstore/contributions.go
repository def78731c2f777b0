package graphstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/projections/graph"
)

// reclassJSON is a reclassification as stored in the reclassification
// columns.
// vector is the event's version vector (layout 7; a register stored
// before has none and decodes with an empty vector).
type reclassJSON struct {
	Level   string               `json:"level"`
	HLC     int64                `json:"hlc"`
	Peer    string               `json:"peer"`
	EventID uuid.UUID            `json:"event_id"`
	Vector  events.VersionVector `json:"vector,omitempty"`
}

// encodeReclass returns the stored form of r: nil (SQL NULL) when unset.
func encodeReclass(r graph.Reclassification) *string {
	if !r.Set() {
		return nil
	}
	b, _ := json.Marshal(reclassJSON{Level: r.Level, HLC: int64(r.HLC), Peer: r.Peer, EventID: r.EventID, Vector: r.Vector})
	s := string(b)
	return &s
}

func decodeReclass(s *string) (graph.Reclassification, error) {
	if s == nil {
		return graph.Reclassification{}, nil
	}
	var j reclassJSON
	if err := json.Unmarshal([]byte(*s), &j); err != nil {
		return graph.Reclassification{}, fmt.Errorf("decoding reclassification: %w", err)
	}
	return graph.Reclassification{Level: j.Level, HLC: events.HLC(j.HLC), Peer: j.Peer, EventID: j.EventID, Vector: nonEmpty(j.Vector)}, nil
}

func nonEmpty(v events.VersionVector) events.VersionVector {
	if len(v) == 0 {
		return nil
	}
	return v
}

// encodeLevels returns the stored form of a level clock, levels sorted.
func encodeLevels(l graph.LevelClock) string {
	names := make([]string, 0, len(l))
	for n := range l {
		names = append(names, n)
	}
	slices.Sort(names)
	b := []byte{'{'}
	for i, n := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = graph.AppendJSONString(b, n)
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(l[n]), 10)
	}
	return string(append(b, '}'))
}

func decodeLevels(s string) (graph.LevelClock, error) {
	var l graph.LevelClock
	if err := json.Unmarshal([]byte(s), &l); err != nil {
		return nil, fmt.Errorf("decoding classification levels: %w", err)
	}
	if len(l) == 0 {
		return nil, nil
	}
	return l, nil
}

// deltaJSON is the stored form of an entity or relation contribution.
type deltaJSON struct {
	Kind       string               `json:"k,omitempty"`
	Value      string               `json:"v,omitempty"`
	Type       string               `json:"t,omitempty"`
	SourceKey  string               `json:"s,omitempty"`
	TargetKey  string               `json:"d,omitempty"`
	Observed   bool                 `json:"o,omitempty"`
	FirstSeen  *time.Time           `json:"f,omitempty"`
	LastSeen   *time.Time           `json:"l,omitempty"`
	Sources    []string             `json:"src,omitempty"`
	Vector     events.VersionVector `json:"vec,omitempty"`
	Attributes graph.Attributes     `json:"a,omitempty"`
	Class      string               `json:"c"`
	Levels     graph.LevelClock     `json:"lv,omitempty"`
}

// encodeContribution renders a contribution as deltaJSON (by hand for
// entity and relation deltas, which every observation writes).
func encodeContribution(c graph.Contribution) string {
	switch c.Type {
	case graph.ContributionEntity:
		e := c.Entity
		b := make([]byte, 0, 128+len(e.Value))
		b = append(b, '{')
		b = appendField(b, "k", e.Kind)
		b = appendField(b, "v", e.Value)
		if e.Observed {
			b = append(b, `"o":true,`...)
			b = appendTimes(b, e.FirstSeen, e.LastSeen)
		}
		return string(appendCommon(b, e.Sources, e.Vector, e.Attributes, e.Classification, e.Levels))
	case graph.ContributionRelation:
		r := c.Relation
		b := make([]byte, 0, 192+len(r.SourceKey)+len(r.TargetKey))
		b = append(b, '{')
		b = appendField(b, "t", r.Type)
		b = appendField(b, "s", r.SourceKey)
		b = appendField(b, "d", r.TargetKey)
		b = appendTimes(b, r.FirstSeen, r.LastSeen)
		return string(appendCommon(b, r.Sources, r.Vector, r.Attributes, r.Classification, r.Levels))
	}
	b, _ := json.Marshal(c.Enrichment)
	return string(b)
}

func appendField(b []byte, name, v string) []byte {
	if v == "" {
		return b
	}
	b = append(b, '"')
	b = append(b, name...)
	b = append(b, `":`...)
	return append(graph.AppendJSONString(b, v), ',')
}

func appendTimes(b []byte, first, last time.Time) []byte {
	b = append(b, `"f":"`...)
	b = first.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","l":"`...)
	b = last.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, `",`...)
}

func appendCommon(b []byte, sources []string, vec events.VersionVector, attrs graph.Attributes, class string, levels graph.LevelClock) []byte {
	if len(sources) > 0 {
		b = append(b, `"src":`...)
		b = append(graph.AppendJSONStrings(b, sources), ',')
	}
	if len(vec) > 0 {
		b = append(b, `"vec":`...)
		b = append(graph.AppendJSONVector(b, vec), ',')
	}
	if len(attrs) > 0 {
		b = append(b, `"a":`...)
		b = append(graph.AppendJSONAttributes(b, attrs), ',')
	}
	if len(levels) > 0 {
		b = append(b, `"lv":`...)
		b = append(b, encodeLevels(levels)...)
		b = append(b, ',')
	}
	// Last, always: the classification ("" is a level too).
	b = append(b, `"c":`...)
	b = graph.AppendJSONString(b, class)
	return append(b, '}')
}

func decodeEntityDelta(key, s string) (graph.EntityState, error) {
	var d deltaJSON
	if err := json.Unmarshal([]byte(s), &d); err != nil {
		return graph.EntityState{}, fmt.Errorf("decoding the contribution to %s: %w", key, err)
	}
	e := graph.EntityState{Key: key, Kind: d.Kind, Value: d.Value, Observed: d.Observed, Sources: d.Sources,
		Vector: d.Vector, Attributes: d.Attributes, Classification: d.Class, Levels: d.Levels}
	if d.Observed && d.FirstSeen != nil && d.LastSeen != nil {
		e.FirstSeen, e.LastSeen = d.FirstSeen.UTC(), d.LastSeen.UTC()
	}
	return e, nil
}

func decodeRelationDelta(key, s string) (graph.RelationState, error) {
	var d deltaJSON
	if err := json.Unmarshal([]byte(s), &d); err != nil {
		return graph.RelationState{}, fmt.Errorf("decoding the contribution to %s: %w", key, err)
	}
	r := graph.RelationState{Key: key, Type: d.Type, SourceKey: d.SourceKey, TargetKey: d.TargetKey, Sources: d.Sources,
		Vector: d.Vector, Attributes: d.Attributes, Classification: d.Class, Levels: d.Levels}
	if d.FirstSeen != nil && d.LastSeen != nil {
		r.FirstSeen, r.LastSeen = d.FirstSeen.UTC(), d.LastSeen.UTC()
	}
	return r, nil
}

// queueContributions queues the insert of the batch's contributions; an
// event's contribution is the same every time it is delivered, so a
// duplicate is skipped.
func queueContributions(out *writes, g string, cs []graph.Contribution) {
	if len(cs) == 0 {
		return
	}
	n := len(cs)
	keys, types, ids, batches, sources, deltas := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, c := range cs {
		keys[i], types[i], ids[i], batches[i], sources[i] = c.RecordKey, c.Type, c.EventID.String(), c.BatchID, c.Source
		deltas[i] = encodeContribution(c)
	}
	out.queue(-1, `INSERT INTO `+g+`.contributions (record_key, type, event_id, batch_id, source, delta)
		SELECT k, t, i, b, s, d::jsonb FROM unnest($1::text[], $2::text[], $3::text[]::uuid[], $4::text[], $5::text[], $6::text[])
			AS u(k, t, i, b, s, d)
		ORDER BY k COLLATE "C", t COLLATE "C", i
		ON CONFLICT DO NOTHING`, keys, types, ids, batches, sources, deltas)
}

// pendingReclass is a reclassification of a record that does not exist.
type pendingReclass struct {
	typ, key string
	r        graph.Reclassification
}

// queuePending queues the upsert of reclassifications of records that do
// not exist: a stored one is replaced only by one that wins over it
// (graph.Reclassification.After, with the same column order and byte-wise
// comparisons).
func queuePending(out *writes, g string, ps []pendingReclass) {
	if len(ps) == 0 {
		return
	}
	slices.SortFunc(ps, func(a, b pendingReclass) int {
		if a.typ != b.typ {
			return compareStrings(a.typ, b.typ)
		}
		return compareStrings(a.key, b.key)
	})
	n := len(ps)
	types, keys, levels, peers, ids := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	hlcs, vecs := make([]int64, n), make([]string, n)
	for i, p := range ps {
		types[i], keys[i], levels[i], hlcs[i], peers[i], ids[i] = p.typ, p.key, p.r.Level, int64(p.r.HLC), p.r.Peer, p.r.EventID.String()
		vecs[i] = string(graph.AppendJSONVector(nil, p.r.Vector))
	}
	// The batch merged the stored register into its own (it runs
	// exclusively, so that one is still stored): >= lets the merge of
	// the vectors of one event (a forged log's twins) through.
	out.queue(-1, `INSERT INTO `+g+`.pending_reclassifications AS p (type, key, level, hlc, peer, event_id, vector)
		SELECT t, k, l, h, p, i, v::jsonb FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[]::uuid[], $7::text[])
			AS u(t, k, l, h, p, i, v)
		ON CONFLICT (type, key) DO UPDATE SET level = EXCLUDED.level, hlc = EXCLUDED.hlc, peer = EXCLUDED.peer, event_id = EXCLUDED.event_id,
			vector = EXCLUDED.vector
		WHERE (EXCLUDED.hlc, EXCLUDED.peer, EXCLUDED.event_id, EXCLUDED.level) >= (p.hlc, p.peer, p.event_id, p.level)`,
		types, keys, levels, hlcs, peers, ids, vecs)
}

// queueDropPending queues the removal of pending reclassifications that
// were merged into records.
func queueDropPending(out *writes, g, typ string, keys []string) {
	if len(keys) == 0 {
		return
	}
	out.queue(-1, `DELETE FROM `+g+`.pending_reclassifications WHERE type = $1 AND key = ANY($2::text[])`, typ, keys)
}

// existing returns which of keys have a row in the state table of typ
// (entity or relation), without locking, and the pending reclassifications
// of those keys.
func existing(ctx context.Context, tx pgx.Tx, g, typ string, keys []string) (map[string]bool, map[string]graph.Reclassification, error) {
	table := g + ".entity_state"
	if typ == graph.ContributionRelation {
		table = g + ".relation_state"
	}
	rows, err := tx.Query(ctx, `SELECT key, NULL, 0, NULL, NULL, NULL FROM `+table+` WHERE key = ANY($1::text[])
		UNION ALL
		SELECT key, level, hlc, peer, event_id::text, vector::text FROM `+g+`.pending_reclassifications WHERE type = $2 AND key = ANY($1::text[])`,
		keys, typ)
	if err != nil {
		return nil, nil, err
	}
	exists := make(map[string]bool, len(keys))
	pending := map[string]graph.Reclassification{}
	var (
		k                string
		level, peer, vec *string
		hlc              int64
		id               *string
	)
	_, err = pgx.ForEachRow(rows, []any{&k, &level, &hlc, &peer, &id, &vec}, func() error {
		if level == nil {
			exists[k] = true
			return nil
		}
		eid, err := uuid.Parse(*id)
		if err != nil {
			return err
		}
		var v events.VersionVector
		if err := json.Unmarshal([]byte(*vec), &v); err != nil {
			return fmt.Errorf("decoding the vector of a pending reclassification: %w", err)
		}
		pending[k] = graph.Reclassification{Level: *level, HLC: events.HLC(hlc), Peer: *peer, EventID: eid, Vector: nonEmpty(v)}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return exists, pending, nil
}
