package graphstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/projections/graph"
)

const (
	envPostgresURL      = "HEIMDALL_POSTGRES_URL"
	envPostgresAdminURL = "HEIMDALL_POSTGRES_ADMIN_URL"
	stackHint           = "source .stack/env (make stack-up)"
	testTopic           = "heimdall.events"
)

// baseURL is the development stack's application URL. Integration tests
// run by default: only -short skips them.
func baseURL(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test against the development stack's PostgreSQL (skipped with -short)")
	}
	u := os.Getenv(envPostgresURL)
	if u == "" {
		t.Fatalf("%s is not set: %s", envPostgresURL, stackHint)
	}
	return u
}

// testDatabase creates a fresh database (template1 has the age and vector
// extensions), drops it when the test ends and returns its URL.
func testDatabase(t testing.TB) string {
	t.Helper()
	base := baseURL(t)
	ctx := context.Background()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := "heimdall_test_" + hex.EncodeToString(b[:])
	exec := func(url, stmt string) error {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return fmt.Errorf("connecting to the development stack (%s): %w", stackHint, err)
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, stmt)
		return err
	}
	// The application role owns the database, as in production.
	if err := exec(base, "CREATE DATABASE "+quoteIdent(name)); err != nil {
		t.Fatalf("creating test database: %v", err)
	}
	t.Cleanup(func() {
		// Only a superuser may end an autovacuum worker busy in the
		// database; without the admin URL, wait for it to finish.
		dropper := base
		if admin := os.Getenv(envPostgresAdminURL); admin != "" {
			dropper = admin
		}
		var err error
		for range 50 {
			if err = exec(dropper, "DROP DATABASE IF EXISTS "+quoteIdent(name)+" WITH (FORCE)"); err == nil {
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Errorf("dropping test database %s: %v", name, err)
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s is not a URL", envPostgresURL)
	}
	u.Path = "/" + name
	return u.String()
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// openStore opens a store on dbURL, closed at the end of the test.
func openStore(t testing.TB, dbURL string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dbURL, WithLogger(testLogger(t)), WithMaxConns(8))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func newProjector(t testing.TB, s *Store, codec *events.Codec, opts ...graph.Option) *graph.Projector {
	t.Helper()
	p, err := graph.New(s, codec, testLogger(t), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// logWriter builds log records with consecutive offsets per partition.
type logWriter struct {
	t     testing.TB
	codec *events.Codec
	mu    sync.Mutex
	next  map[int32]int64
}

func newLogWriter(t testing.TB) *logWriter {
	c, err := events.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	return &logWriter{t: t, codec: c, next: map[int32]int64{}}
}

func (w *logWriter) append(part int32, es ...events.Event) []events.LogRecord {
	w.t.Helper()
	out := make([]events.LogRecord, 0, len(es))
	for _, e := range es {
		b, err := w.codec.Encode(e)
		if err != nil {
			w.t.Fatal(err)
		}
		out = append(out, w.raw(part, e.Key, b))
	}
	return out
}

func (w *logWriter) raw(part int32, key string, value []byte) events.LogRecord {
	w.mu.Lock()
	defer w.mu.Unlock()
	off := w.next[part]
	w.next[part]++
	return events.LogRecord{Topic: testTopic, Partition: part, Offset: off, Key: []byte(key), Value: value}
}

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// eventAt builds an envelope; batch and n make its id, n its times.
func eventAt(key, batch string, n int) events.Event {
	at := t0.Add(time.Duration(n) * time.Second)
	return events.Event{
		ID:  events.DeterministicID(at, batch, key, fmt.Sprint(n)),
		Key: key, OriginPeer: "site-a",
		Vector:         events.VersionVector{"site-a": int64(events.MakeHLC(at.UnixMilli(), 0))},
		HLC:            events.MakeHLC(at.UnixMilli(), 0),
		Actor:          events.Actor{Subject: "heimdall-cli", Issuer: "https://localhost:58443"},
		RequestID:      "req-" + batch,
		BatchID:        batch,
		RecordedAt:     at,
		Provenance:     events.Provenance{Source: "zeek", Format: "ndjson", File: "dns.log", Line: int64(n + 1), ByteOffset: -1},
		Classification: "UNCLASSIFIED",
		PolicyVersion:  "1",
	}
}

func entity(ep events.Endpoint, batch string, n int, attrs ...events.Attribute) events.Event {
	e := eventAt(ep.Key, batch, n)
	e.Type = events.TypeEntityObserved
	if attrs == nil {
		attrs = []events.Attribute{}
	}
	e.Payload = events.EntityObserved{Kind: ep.Kind, Value: ep.Value, ObservedAt: e.RecordedAt, Attributes: attrs}
	return e
}

func relation(typ string, src, dst events.Endpoint, batch string, n int) events.Event {
	key := "relationship--" + typ + "--" + src.Key + "--" + dst.Key
	e := eventAt(key, batch, n)
	e.Type = events.TypeRelationObserved
	e.Payload = events.RelationObserved{RelationType: typ, Source: src, Target: dst, ObservedAt: e.RecordedAt,
		Attributes: []events.Attribute{}}
	return e
}

func ipv4(i int) events.Endpoint {
	return events.Endpoint{Key: fmt.Sprintf("ipv4-addr--%08d", i), Kind: "ipv4-addr", Value: fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)}
}

func domain(i int) events.Endpoint {
	return events.Endpoint{Key: fmt.Sprintf("domain-name--%08d", i), Kind: "domain-name", Value: fmt.Sprintf("host%d.example.com", i)}
}

// dnsEvents is a small DNS-like scenario: n domains each resolving to an IP,
// with entity events for both ends. batch and base vary ids and times.
func dnsEvents(n int, batch string, base int) []events.Event {
	return dnsEventsFrom(0, n, batch, base)
}

// dnsEventsFrom is dnsEvents for keys first to first+n-1.
func dnsEventsFrom(first, n int, batch string, base int) []events.Event {
	var out []events.Event
	for i := range n {
		d, ip := domain(first+i), ipv4(first+i)
		out = append(out,
			entity(d, batch, base+i),
			entity(ip, batch, base+i, events.Attribute{Name: "asn", Value: "64500"}),
			relation("RESOLVES_TO", d, ip, batch, base+i))
	}
	return out
}

type snapshot struct {
	vertices, edges int64
	digest          string
	provenance      int64
}

func snap(t testing.TB, s *Store, gen graph.Generation) snapshot {
	t.Helper()
	ctx := context.Background()
	v, e, err := s.GenerationCounts(ctx, gen)
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.GenerationDigest(ctx, gen)
	if err != nil {
		t.Fatal(err)
	}
	var p int64
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM "+quoteIdent(gen.Graph)+".provenance").Scan(&p); err != nil {
		t.Fatal(err)
	}
	return snapshot{vertices: v, edges: e, digest: d, provenance: p}
}

func activeGen(t testing.TB, s *Store) graph.Generation {
	t.Helper()
	g, err := s.ActiveGeneration(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return g
}
