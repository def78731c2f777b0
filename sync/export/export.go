package export

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/sync/exchange"
)

// ErrUnknownPeer is returned for a caller that is not a configured peer.
var ErrUnknownPeer = errors.New("not a configured peer")

// ErrPaused is returned for a peer that is paused.
var ErrPaused = errors.New("peer is paused")

// Tail reads the events topic from a cursor (internal/kafka's Tail).
type Tail interface {
	Poll(ctx context.Context, max int, wait time.Duration) ([]events.LogRecord, error)
	// CaughtUp reports whether the end offsets of the moment the tail was
	// opened have been reached.
	CaughtUp() bool
	// Ends are the end offsets of the moment the tail was opened.
	Ends() map[int32]int64
	Close()
}

// OpenTail opens the events topic at a cursor (only: just those
// partitions, when not empty).
type OpenTail func(ctx context.Context, from map[int32]int64, only []int32) (Tail, error)

// Paused tells whether a peer is paused (the sync store); nil: never.
type Paused func(ctx context.Context, peer string) (bool, error)

// Options configure an Exporter.
type Options struct {
	Self   string          // this peer's id
	Peers  []exchange.Peer // the configured peers (those with a subject may pull)
	Levels []string        // classification levels, lowest first
	Open   OpenTail
	Codec  *events.Codec
	Paused Paused
	Logger *slog.Logger
	// Chunk is the most records between two cursor frames (default 2500).
	Chunk int
	// Registry receives the exporter's metrics; nil: not registered.
	Registry prometheus.Registerer
}

// Exporter serves the sync stream.
type Exporter struct {
	o         Options
	bySubject map[string]exchange.Peer
	digests   digestCache

	sent, filtered *prometheus.CounterVec
}

// New returns an Exporter.
func New(o Options) (*Exporter, error) {
	if o.Open == nil || o.Codec == nil || o.Self == "" {
		return nil, errors.New("export: Self, Open and Codec are required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Chunk <= 0 {
		o.Chunk = 2500
	}
	x := &Exporter{o: o, bySubject: map[string]exchange.Peer{}, digests: digestCache{m: map[digestKey]map[int64]exchange.RangeDigest{}}}
	for _, p := range o.Peers {
		if p.Subject != "" {
			x.bySubject[p.Subject] = p
		}
	}
	x.sent = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "heimdall_sync_export_records_total", Help: "Records sent to peers, by peer.",
	}, []string{"peer"})
	x.filtered = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "heimdall_sync_export_skipped_total",
		Help: "Records read for a peer and not sent, by peer and reason (held: the peer already had it; agreement: its agreement excludes it; undecodable).",
	}, []string{"peer", "reason"})
	if o.Registry != nil {
		if err := o.Registry.Register(x.sent); err != nil {
			return nil, err
		}
		if err := o.Registry.Register(x.filtered); err != nil {
			return nil, err
		}
	}
	for _, p := range o.Peers {
		if p.Subject != "" {
			x.sent.WithLabelValues(p.ID)
			for _, r := range []string{"held", "agreement", "undecodable"} {
				x.filtered.WithLabelValues(p.ID, r)
			}
		}
	}
	return x, nil
}

// Peer returns the configured peer whose token subject is subject.
func (x *Exporter) Peer(ctx context.Context, subject string) (exchange.Peer, error) {
	p, ok := x.bySubject[subject]
	if !ok {
		return exchange.Peer{}, ErrUnknownPeer
	}
	paused := p.Paused
	if x.o.Paused != nil {
		var err error
		if paused, err = x.o.Paused(ctx, p.ID); err != nil {
			return exchange.Peer{}, err
		}
	}
	if paused {
		return p, ErrPaused
	}
	return p, nil
}

// Request is one pull.
type Request struct {
	From exchange.Cursor
	Max  int           // records to read (sent or not) before the stream ends; default 5000
	Wait time.Duration // how long to wait for new records when caught up; 0: do not wait
	// IDsOnly sends each record as its event id alone (16 bytes as the
	// value, no key or headers): anti-entropy compares these with what the
	// peer holds.
	IDsOnly bool
	// Partition, when set, restricts the read to one partition, and
	// Until (when > 0) ends it before that offset: a repair re-reads a
	// range.
	Partition *int32
	Until     int64
	// DigestSpan, when > 0 (with Partition and Until), sends one
	// exchange.RangeDigest per range of DigestSpan offsets (aligned to its
	// multiples) instead of records: anti-entropy's first look.
	DigestSpan int64
}

// Stats count what one Export did.
type Stats struct {
	Read, Sent, Held, Excluded, Undecodable int
	Cursor                                  exchange.Cursor
}

// Export writes the stream for peer to w (flushing after each chunk through
// flush when set) and returns what it did. The stream ends when Max records
// were read, or when the log is read to its end and, with nothing sent, Wait
// passed without news.
func (x *Exporter) Export(ctx context.Context, peer exchange.Peer, r Request, w io.Writer, flush func()) (Stats, error) {
	if r.Max <= 0 {
		r.Max = 5000
	}
	cursor := r.From.Clone()
	if cursor == nil {
		cursor = exchange.Cursor{}
	}
	st := Stats{Cursor: cursor}
	if r.DigestSpan > 0 && (r.Partition == nil || r.Until <= 0) {
		return st, errors.New("export: digests need a partition and an until offset")
	}
	agreement := peer.Agreement(x.o.Levels)
	fw := exchange.NewWriter(w)
	// Digest mode: whole ranges summed before for this peer and agreement
	// are sent from memory (the log is append-only: nothing in a whole range
	// changes), so a round reads only the ranges new since the last one.
	var cacheKey digestKey
	if r.DigestSpan > 0 {
		cacheKey = digestKeyOf(peer.ID, agreement, *r.Partition, r.DigestSpan)
		for from := cursor[*r.Partition]; from%r.DigestSpan == 0 && from+r.DigestSpan <= r.Until; from += r.DigestSpan {
			d, ok := x.digests.get(cacheKey, from)
			if !ok {
				break
			}
			if err := fw.WriteRecord(d.Record()); err != nil {
				return st, err
			}
			cursor[*r.Partition] = d.Until
		}
	}
	var only []int32
	if r.Partition != nil {
		only = []int32{*r.Partition}
	}
	tail, err := x.o.Open(ctx, cursor, only)
	if err != nil {
		return st, fmt.Errorf("opening the log: %w", err)
	}
	defer tail.Close()
	sent := x.sent.WithLabelValues(peer.ID)
	empty := 0 // polls in a row that found nothing before the end offsets
	ended := func() bool {
		return r.Partition != nil && r.Until > 0 && cursor[*r.Partition] >= r.Until
	}
	// Digest mode: the range being summed, written when the next begins
	// and at the end.
	var (
		rng    exchange.RangeDigest
		rngSum hash.Hash
	)
	endRange := func() error {
		if rngSum == nil {
			return nil
		}
		copy(rng.Sum[:], rngSum.Sum(nil))
		rngSum = nil
		if rng.Until == rng.From+r.DigestSpan && cursor[rng.Partition] >= rng.Until {
			x.digests.put(cacheKey, rng) // a whole range, read to its end
		}
		return fw.WriteRecord(rng.Record())
	}
	for st.Read < r.Max && !ended() {
		wait := 2 * time.Second // enough for the fetch of records known to exist
		if tail.CaughtUp() {
			if st.Sent > 0 || r.Wait <= 0 {
				break
			}
			wait = r.Wait
		}
		recs, err := tail.Poll(ctx, min(x.o.Chunk, r.Max-st.Read), wait)
		if err != nil {
			return st, err
		}
		if len(recs) == 0 {
			if empty++; tail.CaughtUp() || empty >= 3 {
				break // waited r.Wait: nothing new (or the log ends early: control records)
			}
			continue
		}
		empty = 0
		for _, rec := range recs {
			if r.Partition != nil && r.Until > 0 && rec.Offset >= r.Until {
				continue // beyond the range
			}
			st.Read++
			cursor[rec.Partition] = rec.Offset + 1
			if r.DigestSpan > 0 {
				if from := rec.Offset - rec.Offset%r.DigestSpan; rngSum == nil || from != rng.From {
					if err := endRange(); err != nil {
						return st, err
					}
					rng = exchange.RangeDigest{Partition: rec.Partition, From: from, Until: min(from+r.DigestSpan, r.Until)}
					rngSum = sha256.New()
				}
			}
			send, reason, id := x.decide(rec, peer.ID, agreement)
			if !send {
				x.filtered.WithLabelValues(peer.ID, reason).Inc()
				switch reason {
				case "held":
					st.Held++
				case "agreement":
					st.Excluded++
				default:
					st.Undecodable++
				}
				continue
			}
			if r.DigestSpan > 0 {
				rng.Count++
				rngSum.Write(id[:])
				st.Sent++
				continue
			}
			frame := frameOf(rec)
			if r.IDsOnly {
				frame = exchange.Record{Partition: rec.Partition, Offset: rec.Offset, Value: id[:]}
			}
			if err := fw.WriteRecord(frame); err != nil {
				return st, err
			}
			st.Sent++
			if !r.IDsOnly {
				sent.Inc()
			}
		}
		if err := fw.WriteCursor(cursor); err != nil {
			return st, err
		}
		if err := fw.Flush(); err != nil {
			return st, err
		}
		if flush != nil {
			flush()
		}
	}
	if err := endRange(); err != nil {
		return st, err
	}
	// The final cursor, also when nothing was read (a new importer learns
	// it is up to date), and the end offsets for the importer's lag.
	if err := fw.WriteEnds(tail.Ends()); err != nil {
		return st, err
	}
	if err := fw.WriteCursor(cursor); err != nil {
		return st, err
	}
	return st, fw.Flush()
}

// digestKey names the ranges of one partition summed for one peer under one
// agreement with one span.
type digestKey struct {
	peer, agreement string
	partition       int32
	span            int64
}

func digestKeyOf(peer string, a exchange.Agreement, partition int32, span int64) digestKey {
	return digestKey{peer: peer, agreement: strings.Join(a.Levels, "\x1f") + "\x1e" + a.MaxClassification + "\x1e" + strings.Join(a.Sources, "\x1f"),
		partition: partition, span: span}
}

// digestCache keeps the digests of whole ranges, by key and first offset.
// It lives as long as the process: a log restored from a backup comes with
// a restart.
type digestCache struct {
	mu sync.Mutex
	m  map[digestKey]map[int64]exchange.RangeDigest
	n  int
}

// maxCachedDigests bounds the cache (about 100 bytes each): past it, it
// starts again empty.
const maxCachedDigests = 1 << 20

func (c *digestCache) get(k digestKey, from int64) (exchange.RangeDigest, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.m[k][from]
	return d, ok
}

func (c *digestCache) put(k digestKey, d exchange.RangeDigest) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n >= maxCachedDigests {
		clear(c.m)
		c.n = 0
	}
	if c.m[k] == nil {
		c.m[k] = map[int64]exchange.RangeDigest{}
	}
	if _, ok := c.m[k][d.From]; !ok {
		c.n++
	}
	c.m[k][d.From] = d
}

// decide tells whether rec may be sent to peer, and if not, why; it also
// returns the record's event id.
func (x *Exporter) decide(rec events.LogRecord, peer string, a exchange.Agreement) (bool, string, uuid.UUID) {
	e, err := x.o.Codec.DecodeEnvelope(rec.Value)
	if err != nil {
		x.o.Logger.Warn("sync export: undecodable record not sent", "partition", rec.Partition, "offset", rec.Offset, "error", err)
		return false, "undecodable", uuid.Nil
	}
	if !exchange.Forwardable(e.OriginPeer, rec.Headers[exchange.HeaderVia], peer) {
		return false, "held", e.ID
	}
	if !a.Allows(e.Classification, e.Provenance.Source) {
		return false, "agreement", e.ID
	}
	return true, "", e.ID
}

func frameOf(rec events.LogRecord) exchange.Record {
	out := exchange.Record{Partition: rec.Partition, Offset: rec.Offset, Key: rec.Key, Value: rec.Value}
	for _, k := range slices.Sorted(maps.Keys(rec.Headers)) {
		out.Headers = append(out.Headers, exchange.Header{Key: k, Value: []byte(rec.Headers[k])})
	}
	return out
}
