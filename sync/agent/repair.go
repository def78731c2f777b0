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
	Ranges   int // ranges of the peer's log whose digest was compared
	Checked  int // of those, ranges not verified before with that digest, whose ids were listed
	Listed   int // event ids listed from those ranges
	Missing  int // of those, never imported here
	Appended int // appended by the round
}

// Ranges of anti-entropy: DigestSpan offsets of one partition per digest,
// digestPage offsets per request (within the exporter's max).
const (
	DigestSpan = 10_000
	digestPage = 5 * DigestSpan
)

// Repair runs one anti-entropy round against p. For each range of
// DigestSpan offsets of each partition of p's log, p sends the count and
// SHA-256 of the event ids it would send us (its agreement applied); a
// range this peer verified before with the same digest is done. For any
// other range the round lists its ids (16 bytes each), finds those never
// imported here, re-reads just the offsets holding them, and once none is
// missing stores the range as verified. The exporter keeps the digests of
// whole ranges it summed (per peer and agreement) in memory, so after its
// first round since a start it reads only the ranges new since the last,
// and a round sends little more than one digest per range when nothing
// diverged; a widened agreement changes the digests of exactly the
// ranges it lets more through. It repairs what the log-following pull
// cannot see: events behind the checkpoint that were never appended (an
// agreement widened after they were passed over, a restore of this peer
// from an older backup, an import lost to a bug). The claims keep what
// arrived meanwhile from being appended twice; the checkpoint does not
// move.
func (a *Agent) Repair(ctx context.Context, p exchange.Peer) (Repair, error) {
	var res Repair
	q := url.Values{}
	q.Set("max", "1")
	q.Set("ids", "true")
	ends, err := a.stream(ctx, p, q, func(*exchange.Record) error { return nil }, func(exchange.Cursor) error { return nil })
	if err != nil {
		return res, fmt.Errorf("reading the end offsets: %w", err)
	}
	for _, part := range slices.Sorted(maps.Keys(ends)) {
		verified, err := a.o.Store.Verified(ctx, p.ID, part)
		if err != nil {
			return res, err
		}
		for from := int64(0); from < ends[part]; from += digestPage {
			until := min(from+digestPage, ends[part])
			q := url.Values{}
			q.Set("cursor", exchange.Cursor{part: from}.String())
			q.Set("partition", strconv.Itoa(int(part)))
			q.Set("until", strconv.FormatInt(until, 10))
			q.Set("max", strconv.FormatInt(until-from, 10))
			q.Set("digests", strconv.Itoa(DigestSpan))
			var ds []exchange.RangeDigest
			if _, err := a.stream(ctx, p, q, func(rec *exchange.Record) error {
				d, err := exchange.DigestOf(rec)
				ds = append(ds, d)
				return err
			}, func(exchange.Cursor) error { return nil }); err != nil {
				return res, fmt.Errorf("reading digests of %d/%d-%d: %w", part, from, until, err)
			}
			for _, d := range ds {
				res.Ranges++
				if d.Count == 0 || verified[d.From] == d {
					continue
				}
				res.Checked++
				if err := a.repairRange(ctx, p, d, &res); err != nil {
					return res, err
				}
			}
		}
	}
	a.m.repairMissing.WithLabelValues(p.ID).Add(float64(res.Missing))
	a.m.records.WithLabelValues(p.ID, "repaired").Add(float64(res.Appended))
	return res, nil
}

// repairRange lists the ids of one range of p's log, re-reads the offsets
// of those never imported here, and stores the range as verified once none
// is missing.
func (a *Agent) repairRange(ctx context.Context, p exchange.Peer, d exchange.RangeDigest, res *Repair) error {
	q := url.Values{}
	q.Set("cursor", exchange.Cursor{d.Partition: d.From}.String())
	q.Set("partition", strconv.Itoa(int(d.Partition)))
	q.Set("until", strconv.FormatInt(d.Until, 10))
	q.Set("max", strconv.FormatInt(d.Until-d.From, 10))
	q.Set("ids", "true")
	var ids []uuid.UUID
	var offsets []int64
	if _, err := a.stream(ctx, p, q, func(rec *exchange.Record) error {
		if len(rec.Value) != 16 {
			return fmt.Errorf("id frame of %d bytes", len(rec.Value))
		}
		ids = append(ids, uuid.UUID(rec.Value))
		offsets = append(offsets, rec.Offset)
		return nil
	}, func(exchange.Cursor) error { return nil }); err != nil {
		return fmt.Errorf("listing %d/%d-%d: %w", d.Partition, d.From, d.Until, err)
	}
	res.Listed += len(ids)
	lacking, err := a.o.Store.Missing(ctx, ids)
	if err != nil {
		return err
	}
	var missing []int64
	for i, id := range ids {
		if lacking[id] {
			missing = append(missing, offsets[i])
		}
	}
	res.Missing += len(missing)
	// Re-read the offsets (neighbours closer than 64 share one read).
	for i := 0; i < len(missing); {
		j := i
		for j+1 < len(missing) && missing[j+1]-missing[j] < 64 {
			j++
		}
		n, err := a.reread(ctx, p, d.Partition, missing[i], missing[j]+1)
		res.Appended += n
		if err != nil {
			return err
		}
		i = j + 1
	}
	if len(missing) > 0 {
		if lacking, err = a.o.Store.Missing(ctx, ids); err != nil || len(lacking) > 0 {
			return err // still missing (undecodable, say): the range stays unverified
		}
	}
	return a.o.Store.MarkVerified(ctx, p.ID, d)
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
		n, err := a.Import(ctx, p.ID, chunk, exchange.Cursor{})
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
		log.Info("sync: anti-entropy round", "ranges", r.Ranges, "checked", r.Checked, "listed", r.Listed, "missing", r.Missing, "appended", r.Appended, "took", time.Since(start).Round(time.Millisecond))
	}
}
