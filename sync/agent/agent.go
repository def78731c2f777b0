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
	// Import claims the items' event ids for peer, calls appendFresh with
	// the items not claimed before, and stores cursor, all in one
	// transaction that commits only when appendFresh succeeded. It returns
	// how many items were fresh.
	Import(ctx context.Context, peer string, items []Item, cursor exchange.Cursor, appendFresh func([]Item) error) (int, error)
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

// Log appends to the local event log and calls done once the record is
// acknowledged (internal/kafka's Producer).
type Log interface {
	Append(ctx context.Context, topic string, key, value []byte, headers map[string]string, done func(error))
}

// TokenSource returns a bearer token for this peer's client.
type TokenSource func(ctx context.Context) (string, error)

// Options configure an Agent.
type Options struct {
	Self   string // this peer's id
	Peers  []exchange.Peer
	Store  Store
	Log    Log
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

	// unsettled holds the ids of events this agent appended to the local
	// log whose claims did not commit (the database failed after the
	// log's acknowledgement). The chunk comes again; its claims are then
	// fresh, but these ids are not appended a second time. Only a crash of
	// the agent inside that window can still append an event twice, which
	// the projectors apply once.
	unsettledMu sync.Mutex
	unsettled   map[uuid.UUID]struct{}
}

// maxUnsettled bounds Agent.unsettled; past it the set is dropped (a later
// retry may then append some events twice, applied once).
const maxUnsettled = 1 << 20

// New returns an Agent.
func New(o Options) (*Agent, error) {
	if o.Self == "" || o.Store == nil || o.Log == nil || o.Topic == "" || o.Codec == nil || o.Token == nil || o.Client == nil {
		return nil, errors.New("agent: Self, Store, Log, Topic, Codec, Token and Client are required")
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
	return &Agent{o: o, m: m, unsettled: map[uuid.UUID]struct{}{}}, nil
}

// Run pulls from every peer with a URL until ctx is done.
func (a *Agent) Run(ctx context.Context) error {
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
		n, err := a.importChunk(ctx, p.ID, chunk, c)
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

// importChunk imports items with their claims and cursor (Store.Import),
// appending to the local log only the fresh items that an earlier, failed
// import of this agent did not already append.
func (a *Agent) importChunk(ctx context.Context, peer string, items []Item, cursor exchange.Cursor) (int, error) {
	n, err := a.o.Store.Import(ctx, peer, items, cursor, func(fresh []Item) error {
		send := fresh[:0:0]
		a.unsettledMu.Lock()
		for _, it := range fresh {
			if _, done := a.unsettled[it.EventID]; !done {
				send = append(send, it)
			}
		}
		a.unsettledMu.Unlock()
		return a.appendAll(send)
	})
	if err == nil {
		// Every item's claim is now committed, by this import or an
		// earlier one.
		a.unsettledMu.Lock()
		for _, it := range items {
			delete(a.unsettled, it.EventID)
		}
		a.unsettledMu.Unlock()
	}
	return n, err
}

// appendAll appends items and waits for every acknowledgement; each
// acknowledged id is unsettled until its claim commits.
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
			mu.Lock()
			if err != nil {
				errs = append(errs, err)
			}
			mu.Unlock()
			if err == nil {
				a.unsettledMu.Lock()
				if len(a.unsettled) >= maxUnsettled {
					clear(a.unsettled)
				}
				a.unsettled[it.EventID] = struct{}{}
				a.unsettledMu.Unlock()
			}
			wg.Done()
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
