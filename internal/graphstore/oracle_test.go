package graphstore

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/internal/pairedtiming"
	"github.com/heimdallhub/heimdall/projections/graph"
)

// hiddenWorld projects a SECRET address seen 40 times with 20 SECRET
// connections (a rich record: provenance, edges) and returns its store.
func hiddenWorld(t *testing.T) (*Store, events.Endpoint) {
	t.Helper()
	ctx := context.Background()
	s := openStore(t, testDatabase(t))
	w := newLogWriter(t)
	p := newProjector(t, s, w.codec)
	secret := func(e events.Event) events.Event { e.Classification = "SECRET"; return e }
	hidden := ipv4(1)
	var evs []events.Event
	for i := 0; i < 40; i++ {
		evs = append(evs, secret(entity(hidden, "b", i)))
	}
	for i := 0; i < 20; i++ {
		evs = append(evs, entity(ipv4(100+i), "b", 100+i), secret(relation("CONNECTED_TO", hidden, ipv4(100+i), "b", 200+i)))
	}
	if err := p.Handle(ctx, w.append(0, evs...)); err != nil {
		t.Fatal(err)
	}
	return s, hidden
}

// TestHiddenAndMissingReadAlike: every read by key answers a record above
// the reader's clearance exactly as one that does not exist.
func TestHiddenAndMissingReadAlike(t *testing.T) {
	ctx := context.Background()
	s, hidden := hiddenWorld(t)
	low := graph.ClearedFor("CONFIDENTIAL")
	rel := "relationship--CONNECTED_TO--" + hidden.Key + "--" + ipv4(100).Key
	reads := map[string]func(key string) error{
		"entity": func(k string) error { _, err := s.EntityVisible(ctx, k, low); return err },
		"record": func(k string) error { _, err := s.RecordVisible(ctx, k, low); return err },
		"timeline": func(k string) error {
			_, err := s.Timeline(ctx, k, uuid.Nil, 10, low)
			return err
		},
		"neighbours": func(k string) error {
			_, err := s.Neighbours(ctx, k, graph.NeighbourQuery{Depth: 2, Limit: 10}, low)
			return err
		},
		"path": func(k string) error { _, _, err := s.ShortestPath(ctx, k, ipv4(100).Key, 3, low); return err },
		"cooccurring": func(k string) error {
			_, err := s.CoOccurrences(ctx, k, time.Hour, 10, low)
			return err
		},
		"enrichments": func(k string) error { _, err := s.Enrichments(ctx, k, low); return err },
	}
	for _, key := range []string{hidden.Key, rel} {
		missing := strings.SplitN(key, "--", 2)[0] + "--" + uuid.NewString()
		for name, read := range reads {
			h, m := read(key), read(missing)
			if !errors.Is(h, graph.ErrNotFound) || !errors.Is(m, graph.ErrNotFound) {
				t.Errorf("%s of %s: hidden %v, missing %v (want both not found)", name, key, h, m)
				continue
			}
			if strings.ReplaceAll(h.Error(), key, "K") != strings.ReplaceAll(m.Error(), missing, "K") {
				t.Errorf("%s: hidden %q, missing %q", name, h, m)
			}
		}
		for _, field := range []string{"value", "attributes.msg"} {
			h, err := s.SealedField(ctx, key, field, low)
			if err != nil {
				t.Fatal(err)
			}
			m, err := s.SealedField(ctx, missing, field, low)
			if err != nil {
				t.Fatal(err)
			}
			if !h.Exists || h.Visible || h.Values != nil || m.Exists || m.Visible || m.Values != nil {
				t.Errorf("sealed %s of %s: hidden %+v, missing %+v", field, key, h, m)
			}
		}
	}
	if v, err := s.SealedField(ctx, hidden.Key, "value", graph.ClearedFor("SECRET")); err != nil || !v.Visible || len(v.Values) != 1 || v.Values[0] != hidden.Value {
		t.Errorf("sealed value for a SECRET reader: %+v %v", v, err)
	}
	if v, err := s.EntityVisible(ctx, hidden.Key, graph.ClearedFor("SECRET")); err != nil || v.OutEdges["CONNECTED_TO"] != 20 || len(v.Provenance) == 0 {
		t.Errorf("entity for a SECRET reader: %+v %v", v, err)
	}
}

// TestHiddenAndMissingCostAlike: reading a rich record above the reader's
// clearance takes as long as reading one that does not exist (before, the
// hidden one cost its provenance and edge counts too: about 3 times as
// long).
func TestHiddenAndMissingCostAlike(t *testing.T) {
	if testing.Short() {
		t.Skip("timing against the real database")
	}
	ctx := context.Background()
	s, hidden := hiddenWorld(t)
	low := graph.ClearedFor("CONFIDENTIAL")
	keys := [3]string{hidden.Key, "ipv4-addr--" + uuid.NewString(), "ipv4-addr--" + uuid.NewString()}
	r, err := pairedtiming.Run(600, 60, 50*time.Microsecond, func(subject int) (time.Duration, error) {
		start := time.Now()
		_, err := s.EntityVisible(ctx, keys[subject], low)
		took := time.Since(start)
		if !errors.Is(err, graph.ErrNotFound) {
			return 0, err
		}
		return took, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("EntityVisible (hidden vs missing): %v", r)
	if r.Distinguishable() {
		t.Errorf("a hidden entity takes measurably different time from a missing one: %v", r)
	}
}
