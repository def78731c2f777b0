package agent

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/heimdallhub/heimdall/sync/exchange"
)

// Repair is what one anti-entropy round against a peer found and did.
type Repair struct {
	Listed   int // event ids the peer would send us
	Missing  int // of those, never imported here
	Appended int // appended by the round
}

// Repair runs one anti-entropy round against p: it lists the id of every
// event p's log holds that p would send us (ids only, 16 bytes each), finds
// those never imported here, and re-reads just the offset ranges holding
// them; the claims keep what arrived meanwhile from being appended twice.
// It repairs what the log-following pull cannot see: events behind the
// checkpoint that were never appended (an agreement widened after they were
// passed over, a restore of this peer from an older backup, an import lost
// to a bug). The checkpoint does not move.
func (a *Agent) Repair(ctx context.Context, p exchange.Peer) (Repair, error) {
	var res Repair
	type loc struct {
		partition int32
		offset    int64
	}
	var missing []loc
	cursor := exchange.Cursor{}
	var batch []uuid.UUID
	var locs []loc
	check := func() error {
		if len(batch) == 0 {
			return nil
		}
		lacking, err := a.o.Store.Missing(ctx, batch)
		if err != nil {
			return err
		}
		for i, id := range batch {
			if lacking[id] {
				missing = append(missing, locs[i])
			}
		}
		batch, locs = batch[:0], locs[:0]
		return nil
	}
	const page = 50_000
	for {
		q := url.Values{}
		q.Set("cursor", cursor.String())
		q.Set("max", strconv.Itoa(page))
		q.Set("ids", "true")
		before := cursor.Clone()
		ends, err := a.stream(ctx, p, q, func(rec *exchange.Record) error {
			if len(rec.Value) != 16 {
				return fmt.Errorf("id frame of %d bytes", len(rec.Value))
			}
			res.Listed++
			batch = append(batch, uuid.UUID(rec.Value))
			locs = append(locs, loc{rec.Partition, rec.Offset})
			return nil
		}, func(c exchange.Cursor) error {
			cursor = c
			return check()
		})
		if err != nil {
			return res, fmt.Errorf("listing: %w", err)
		}
		done := true
		for part, end := range ends {
			done = done && cursor[part] >= end
		}
		if done || maps.Equal(before, cursor) {
			break
		}
	}
	res.Missing = len(missing)
	a.m.repairMissing.WithLabelValues(p.ID).Add(float64(len(missing)))
	// Re-read the ranges (neighbours closer than 64 offsets share one).
	slices.SortFunc(missing, func(x, y loc) int {
		if x.partition != y.partition {
			return int(x.partition - y.partition)
		}
		return int(x.offset - y.offset)
	})
	for i := 0; i < len(missing); {
		j := i
		for j+1 < len(missing) && missing[j+1].partition == missing[i].partition && missing[j+1].offset-missing[j].offset < 64 {
			j++
		}
		part, from, until := missing[i].partition, missing[i].offset, missing[j].offset+1
		n, err := a.reread(ctx, p, part, from, until)
		res.Appended += n
		if err != nil {
			return res, err
		}
		i = j + 1
	}
	a.m.records.WithLabelValues(p.ID, "repaired").Add(float64(res.Appended))
	return res, nil
}

// reread pulls [from, until) of one partition of p's log and imports it
// without touching the checkpoint.
func (a *Agent) reread(ctx context.Context, p exchange.Peer, part int32, from, until int64) (int, error) {
	q := url.Values{}
	q.Set("cursor", exchange.Cursor{part: from}.String())
	q.Set("partition", strconv.Itoa(int(part)))
	q.Set("until", strconv.FormatInt(until, 10))
	q.Set("max", strconv.FormatInt(until-from, 10))
	var chunk []Item
	appended := 0
	_, err := a.stream(ctx, p, q, func(rec *exchange.Record) error {
		if it, ok := a.item(p, rec); ok {
			chunk = append(chunk, it)
		}
		return nil
	}, func(exchange.Cursor) error {
		n, err := a.importChunk(ctx, p.ID, chunk, exchange.Cursor{})
		appended += n
		chunk = chunk[:0]
		return err
	})
	if err != nil {
		return appended, fmt.Errorf("re-reading %d/%d-%d: %w", part, from, until, err)
	}
	return appended, nil
}

// repairLoop runs Repair against p every a.o.RepairEvery.
func (a *Agent) repairLoop(ctx context.Context, p exchange.Peer) {
	log := a.o.Logger.With("peer", p.ID)
	t := time.NewTicker(a.o.RepairEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if paused, err := a.o.Store.Paused(ctx, p.ID); err != nil || paused {
			continue
		}
		start := time.Now()
		r, err := a.Repair(ctx, p)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("sync: anti-entropy round failed", "error", err)
			}
			continue
		}
		a.m.repairs.WithLabelValues(p.ID).Inc()
		log.Info("sync: anti-entropy round", "listed", r.Listed, "missing", r.Missing, "appended", r.Appended, "took", time.Since(start).Round(time.Millisecond))
	}
}
