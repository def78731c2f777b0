package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/sync/exchange"
)

// Item is one received record that is a candidate for appending.
type Item struct {
	EventID uuid.UUID
	// HLC is the event's, or zero when it lies more than MaxClockAhead
	// ahead; Store.Import keeps the greatest, which FeedClock observes.
	HLC     events.HLC
	Key     []byte
	Value   []byte
	Headers map[string]string
}

// Store keeps the import state (internal/syncstore).
type Store interface {
	// Checkpoint is the stored cursor for peer (empty: from the start).
	Checkpoint(ctx context.Context, peer string) (exchange.Cursor, error)
	// Claim claims, in one committed transaction, the event ids of items
	// that were never claimed, as one pending batch of owner started at
	// at; it returns those items and the batch (0 when none is fresh).
	Claim(ctx context.Context, peer string, owner uuid.UUID, items []Item, at time.Time) ([]Item, int64, error)
	// Settle makes the claims of batch (0: none) final once its items are
	// in the local log, and stores cursor and the counts of fresh and
	// duplicate items, in one transaction.
	Settle(ctx context.Context, peer string, batch int64, items []Item, fresh int, cursor exchange.Cursor) error
	// Pending lists the batches that were claimed and never settled.
	Pending(ctx context.Context) ([]Batch, error)
	// Resolve ends a pending batch: the claims of found become final, the
	// others are released (a later pull claims them again).
	Resolve(ctx context.Context, batch int64, found []uuid.UUID) (settled, released int, err error)
	// Contact records a pull's end: when, the lag it left, its error.
	Contact(ctx context.Context, peer string, at time.Time, lag int64, pullErr error) error
	// Paused tells whether the peer is paused.
	Paused(ctx context.Context, peer string) (bool, error)
	// Missing returns which of ids were never imported here.
	Missing(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]bool, error)
	// Verified returns the ranges of peer's partition that anti-entropy
	// verified (every id present here), by first offset, with the digest
	// they had; MarkVerified stores one.
	Verified(ctx context.Context, peer string, partition int32) (map[int64]exchange.RangeDigest, error)
	MarkVerified(ctx context.Context, peer string, d exchange.RangeDigest) error
}

// Batch is a pending import batch: claimed, perhaps appended, not settled.
type Batch struct {
	ID      int64
	Peer    string
	Owner   uuid.UUID // the agent that claimed it
	Started time.Time // before its first append, by the owner's clock
	IDs     []uuid.UUID
}

// Log appends to the local event log and calls done once the record is
// acknowledged (internal/kafka's Producer).
type Log interface {
	Append(ctx context.Context, topic string, key, value []byte, headers map[string]string, done func(error))
}

// LogReader reads the local event log back (internal/kafka.ReadSince).
type LogReader func(ctx context.Context, topic string, since time.Time, fn func(events.LogRecord) error) error

// TokenSource returns a bearer token for this peer's client.
type TokenSource func(ctx context.Context) (string, error)

// Options configure an Agent.
type Options struct {
	Self   string // this peer's id
	Peers  []exchange.Peer
	Store  Store
	Log    Log
	Reader LogReader
	Topic  string // the local events topic
	Codec  *events.Codec
	Token  TokenSource
	Client func(p exchange.Peer) *http.Client // HTTPS client verifying the peer's identity
	Logger *slog.Logger
	// Max is the most records one pull reads at the exporter (default 5000).
	Max int
	// Wait is how long a pull waits at the exporter for news once caught up
	// (default 10s).
	Wait time.Duration
	// MaxBackoff bounds the pause after failed pulls (default 30s).
	MaxBackoff time.Duration
	// RepairEvery is the pause between anti-entropy rounds per peer
	// (Repair); 0 disables them.
	RepairEvery time.Duration
	Registry    prometheus.Registerer
}

// Agent pulls from the configured peers.
type Agent struct {
	o Options
	m *metrics

	// owner tells this agent's batches from those of earlier processes.
	owner uuid.UUID
	// failed holds this agent's batches whose import failed after their
	// claims committed (an append or the settling failed); Recover
	// resolves them before the next import.
	recoverMu sync.Mutex
	failed    map[int64]bool
}

// New returns an Agent.
func New(o Options) (*Agent, error) {
	if o.Self == "" || o.Store == nil || o.Log == nil || o.Reader == nil || o.Topic == "" || o.Codec == nil || o.Token == nil || o.Client == nil {
		return nil, errors.New("agent: Self, Store, Log, Reader, Topic, Codec, Token and Client are required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Max <= 0 {
		o.Max = 5000
	}
	if o.Wait <= 0 {
		o.Wait = 10 * time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	m, err := newMetrics(o.Registry, o.Peers)
	if err != nil {
		return nil, err
	}
	return &Agent{o: o, m: m, owner: uuid.New(), failed: map[int64]bool{}}, nil
}

// Run pulls from every peer with a URL until ctx is done. It first
// resolves the import batches that earlier processes left pending.
func (a *Agent) Run(ctx context.Context) error {
	for backoff := time.Second; ; backoff = min(2*backoff, a.o.MaxBackoff) {
		err := a.Recover(ctx, true)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		a.o.Logger.Warn("sync: resolving pending imports failed", "error", err, "retry_in", backoff)
		sleep(ctx, backoff)
	}
	var wg sync.WaitGroup
	for _, p := range a.o.Peers {
		if p.URL == "" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.follow(ctx, p)
		}()
		if a.o.RepairEvery > 0 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				a.repairLoop(ctx, p)
			}()
		}
	}
	wg.Wait()
	return nil
}

// follow pulls from one peer in a loop, backing off after errors.
func (a *Agent) follow(ctx context.Context, p exchange.Peer) {
	log := a.o.Logger.With("peer", p.ID)
	backoff := time.Duration(0)
	for ctx.Err() == nil {
		paused, err := a.o.Store.Paused(ctx, p.ID)
		if err == nil && paused {
			sleep(ctx, 2*time.Second)
			continue
		}
		var res Pull
		if err == nil {
			res, err = a.Pull(ctx, p)
		}
		if ctx.Err() != nil {
			return
		}
		if cerr := a.o.Store.Contact(context.WithoutCancel(ctx), p.ID, time.Now(), res.Lag, err); cerr != nil {
			log.Warn("sync: recording contact", "error", cerr)
		}
		if err != nil {
			backoff = min(max(2*backoff, 500*time.Millisecond), a.o.MaxBackoff)
			log.Warn("sync: pull failed", "error", err, "retry_in", backoff)
			sleep(ctx, backoff/2+rand.N(backoff/2+1))
			continue
		}
		backoff = 0 // a caught-up pull long-polled (Wait): pull again at once
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// Pull is what one pull did.
type Pull struct {
	Read     int // records received
	Appended int // records appended to the local log
	Held     int // records dropped: already imported, or of this peer's own origin
	Lag      int64
}

// ProblemError is a peer's refusal (an HTTP error status).
type ProblemError struct {
	Status int
	Detail string
}

func (e *ProblemError) Error() string {
	return fmt.Sprintf("peer answered %d: %s", e.Status, e.Detail)
}

// Pull runs one pull from p: one request, its chunks imported one by one.
func (a *Agent) Pull(ctx context.Context, p exchange.Peer) (Pull, error) {
	var res Pull
	start := time.Now()
	defer func() { a.m.pullSeconds.WithLabelValues(p.ID).Observe(time.Since(start).Seconds()) }()
	cursor, err := a.o.Store.Checkpoint(ctx, p.ID)
	if err != nil {
		return res, err
	}
	q := url.Values{}
	q.Set("cursor", cursor.String())
	q.Set("max", strconv.Itoa(a.o.Max))
	q.Set("wait", a.o.Wait.String())
	var chunk []Item
	ends, err := a.stream(ctx, p, q, func(rec *exchange.Record) error {
		res.Read++
		if it, ok := a.item(p, rec); ok {
			chunk = append(chunk, it)
		} else {
			res.Held++
		}
		return nil
	}, func(c exchange.Cursor) error {
		n, err := a.Import(ctx, p.ID, chunk, c)
		if err != nil {
			return fmt.Errorf("importing: %w", err)
		}
		a.m.records.WithLabelValues(p.ID, "appended").Add(float64(n))
		a.m.records.WithLabelValues(p.ID, "duplicate").Add(float64(len(chunk) - n))
		res.Appended += n
		res.Held += len(chunk) - n
		chunk = chunk[:0]
		cursor = c
		return nil
	})
	if err != nil {
		return res, err
	}
	for part, end := range ends {
		if d := end - cursor[part]; d > 0 {
			res.Lag += d
		}
	}
	a.m.lag.WithLabelValues(p.ID).Set(float64(res.Lag))
	a.m.lastContact.WithLabelValues(p.ID).SetToCurrentTime()
	a.m.pulls.WithLabelValues(p.ID, "ok").Inc()
	return res, nil
}

// stream sends one request for p's sync stream with query q and hands its
// frames to onRecord and onCursor; it returns the stream's ends frame.
func (a *Agent) stream(ctx context.Context, p exchange.Peer, q url.Values, onRecord func(*exchange.Record) error, onCursor func(exchange.Cursor) error) (exchange.Cursor, error) {
	tok, err := a.o.Token(ctx)
	if err != nil {
		return nil, fmt.Errorf("getting a token: %w", err)
	}
	u, err := url.Parse(strings.TrimRight(p.URL, "/") + "/v1/sync/events")
	if err != nil {
		return nil, err
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", exchange.ContentType)
	resp, err := a.o.Client(p).Do(req)
	if err != nil {
		a.m.pulls.WithLabelValues(p.ID, "error").Inc()
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		a.m.pulls.WithLabelValues(p.ID, "refused").Inc()
		return nil, &ProblemError{Status: resp.StatusCode, Detail: strings.TrimSpace(string(b))}
	}
	if ct := resp.Header.Get("Content-Type"); ct != exchange.ContentType {
		a.m.pulls.WithLabelValues(p.ID, "error").Inc()
		return nil, fmt.Errorf("peer answered with Content-Type %q, not %s", ct, exchange.ContentType)
	}
	rd := exchange.NewReader(resp.Body)
	for {
		rec, c, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return rd.Ends(), nil
		}
		if err == nil && rec != nil {
			err = onRecord(rec)
		} else if err == nil {
			err = onCursor(c)
		} else {
			err = fmt.Errorf("reading the stream: %w", err)
		}
		if err != nil {
			a.m.pulls.WithLabelValues(p.ID, "error").Inc()
			return nil, err
		}
	}
}

// item turns a received record into an import candidate; false for a
// record to drop.
func (a *Agent) item(p exchange.Peer, rec *exchange.Record) (Item, bool) {
	e, err := a.o.Codec.Decode(rec.Value) // whole: never append what the projectors cannot read
	if err != nil {
		// Never append what cannot be read: its classification and
		// origin are unknown. The cursor moves on; it is counted.
		a.m.records.WithLabelValues(p.ID, "undecodable").Inc()
		a.o.Logger.Warn("sync: undecodable record from peer dropped", "peer", p.ID, "partition", rec.Partition, "offset", rec.Offset, "error", err)
		return Item{}, false
	}
	if e.OriginPeer == a.o.Self {
		a.m.records.WithLabelValues(p.ID, "echo").Inc()
		return Item{}, false
	}
	hs := make(map[string]string, len(rec.Headers)+1)
	var via string
	for _, h := range rec.Headers {
		if h.Key == exchange.HeaderVia {
			via = string(h.Value)
			continue
		}
		hs[h.Key] = string(h.Value)
	}
	hs[exchange.HeaderVia] = exchange.Via(e.OriginPeer, via, p.ID)
	hlc := e.HLC
	if hlc.Millis() > time.Now().Add(MaxClockAhead).UnixMilli() {
		// Imported as it is, but its HLC is kept from the local clocks.
		a.m.clockAhead.WithLabelValues(p.ID).Inc()
		a.o.Logger.Warn("sync: imported event's clock is too far ahead; the local clocks do not observe it",
			"peer", p.ID, "origin", e.OriginPeer, "hlc_time", hlc.Time(), "max_ahead", MaxClockAhead)
		hlc = 0
	}
	return Item{EventID: e.ID, HLC: hlc, Key: append([]byte(nil), rec.Key...), Value: append([]byte(nil), rec.Value...), Headers: hs}, true
}

// Import imports items received from peer: it claims the event ids never claimed here,
// appends those items to the local log, then settles the claims with the
// cursor. A claim commits before its append, so an event is appended once
// even if the agent dies in between: Recover then finds what reached the
// log and releases the rest for the next pull, which still starts before
// them (the cursor moves only with the settling).
func (a *Agent) Import(ctx context.Context, peer string, items []Item, cursor exchange.Cursor) (int, error) {
	if err := a.Recover(ctx, false); err != nil {
		return 0, fmt.Errorf("resolving an earlier failed import: %w", err)
	}
	fresh, batch, err := a.o.Store.Claim(ctx, peer, a.owner, items, time.Now())
	if err != nil {
		return 0, fmt.Errorf("claiming: %w", err)
	}
	if err := a.appendAll(fresh); err != nil {
		a.fail(batch)
		return 0, fmt.Errorf("appending to the local log: %w", err)
	}
	if err := a.o.Store.Settle(ctx, peer, batch, items, len(fresh), cursor); err != nil {
		a.fail(batch)
		return 0, fmt.Errorf("settling: %w", err)
	}
	return len(fresh), nil
}

func (a *Agent) fail(batch int64) {
	if batch == 0 {
		return
	}
	a.recoverMu.Lock()
	a.failed[batch] = true
	a.recoverMu.Unlock()
}

// Recover resolves pending import batches from the local log: the claims
// of the events found there (appended, never settled) become final; the
// others are released, to be claimed and appended by a later pull. It
// resolves this agent's failed batches, and with foreign the batches of
// every other owner too (Run does that once at its start: they are left
// by processes that died; an operator's `sync repair` running at that very
// moment is the one owner alive it may cut short).
func (a *Agent) Recover(ctx context.Context, foreign bool) error {
	a.recoverMu.Lock()
	defer a.recoverMu.Unlock()
	if len(a.failed) == 0 && !foreign {
		return nil
	}
	pending, err := a.o.Store.Pending(ctx)
	if err != nil {
		return err
	}
	var todo []Batch
	want := map[uuid.UUID]bool{}
	since := time.Now()
	for _, b := range pending {
		if a.failed[b.ID] || (foreign && b.Owner != a.owner) {
			todo = append(todo, b)
			for _, id := range b.IDs {
				want[id] = false
			}
			if b.Started.Before(since) {
				since = b.Started
			}
		}
	}
	if len(todo) > 0 {
		// Its records are stamped after Started by the owner's clock; the
		// margin covers a clock that stepped back.
		err := a.o.Reader(ctx, a.o.Topic, since.Add(-recoverMargin), func(r events.LogRecord) error {
			if _, imported := r.Headers[exchange.HeaderVia]; !imported {
				return nil
			}
			e, err := a.o.Codec.DecodeEnvelope(r.Value)
			if err != nil {
				return nil // not this agent's: it appends only what decodes
			}
			if _, ok := want[e.ID]; ok {
				want[e.ID] = true
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("reading the local log back: %w", err)
		}
	}
	for _, b := range todo {
		var found []uuid.UUID
		for _, id := range b.IDs {
			if want[id] {
				found = append(found, id)
			}
		}
		settled, released, err := a.o.Store.Resolve(ctx, b.ID, found)
		if err != nil {
			return err
		}
		delete(a.failed, b.ID)
		a.m.records.WithLabelValues(b.Peer, "appended").Add(float64(settled))
		a.m.records.WithLabelValues(b.Peer, "released").Add(float64(released))
		a.o.Logger.Info("sync: resolved an interrupted import", "peer", b.Peer, "batch", b.ID,
			"in_log", settled, "released", released, "own", b.Owner == a.owner)
	}
	clear(a.failed) // resolved, or gone (resolved by another agent)
	return nil
}

// recoverMargin is how far before a pending batch's start Recover reads
// the local log.
const recoverMargin = 5 * time.Minute

// appendAll appends items and waits for every acknowledgement.
func (a *Agent) appendAll(items []Item) error {
	if len(items) == 0 {
		return nil
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	wg.Add(len(items))
	for _, it := range items {
		a.o.Log.Append(context.Background(), a.o.Topic, it.Key, it.Value, it.Headers, func(err error) {
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
			wg.Done()
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
