package syncstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	gosync "sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/internal/config/devstack"
	"github.com/heimdallhub/heimdall/internal/kafka"
	"github.com/heimdallhub/heimdall/sync/agent"
	"github.com/heimdallhub/heimdall/sync/exchange"
)

// failingStore fails the next settles after they would have committed
// nothing: a database that dies between the log's acknowledgement and the
// settling.
type failingStore struct {
	*Store
	failSettles int
}

func (f *failingStore) Settle(ctx context.Context, peer string, batch int64, items []agent.Item, fresh int, cursor exchange.Cursor) error {
	if f.failSettles > 0 {
		f.failSettles--
		return errors.New("settling: connection reset by peer")
	}
	return f.Store.Settle(ctx, peer, batch, items, fresh, cursor)
}

// dyingLog sends the first `left` appends to Kafka and then stops sending,
// as a process killed in the middle of a batch does: the rest never reach
// the broker.
type dyingLog struct {
	p    *kafka.Producer
	mu   gosync.Mutex
	left int
}

func (d *dyingLog) Append(ctx context.Context, topic string, key, value []byte, headers map[string]string, done func(error)) {
	d.mu.Lock()
	send := d.left != 0
	if d.left > 0 {
		d.left--
	}
	d.mu.Unlock()
	if !send {
		done(errors.New("killed"))
		return
	}
	d.p.Append(ctx, topic, key, value, headers, done)
}

// TestImportExactlyOnceAcrossCrashes: the sync agent appends every
// received event to the local Kafka log exactly once, though the database
// fails after the log acknowledged a batch, and though an agent dies in the
// middle of a batch (its claims committed, part of it sent) while another
// peer delivers the same events: the next agent resolves the dead one's
// batch from the log, and the next pull appends just what never arrived.
func TestImportExactlyOnceAcrossCrashes(t *testing.T) {
	if testing.Short() {
		t.Skip("against the development stack (skipped with -short)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	st := devstack.Env(t)
	kc := st.Kafka(t, devstack.KafkaAdmin)
	suffix := make([]byte, 5)
	_, _ = rand.Read(suffix)
	topic := "heimdall.test.sync-import." + hex.EncodeToString(suffix)
	admin, err := kafka.NewClient(kc)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := kafka.EnsureTopics(ctx, admin, kafka.TopicSpec{Name: topic, Partitions: 3, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		dctx, dcancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer dcancel()
		_, _ = kadm.NewClient(admin).DeleteTopics(dctx, topic)
	})
	producer, err := kafka.NewProducer(kc, kafka.ProducerOptions{Compression: "none"})
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close(ctx)
	codec, err := events.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	store, err := New(ctx, testPool(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	reader := func(ctx context.Context, topic string, since time.Time, fn func(events.LogRecord) error) error {
		return kafka.ReadSince(ctx, kc, topic, since, fn)
	}
	newAgent := func(s agent.Store, log agent.Log) *agent.Agent {
		a, err := agent.New(agent.Options{Self: "site-a", Store: s, Log: log, Reader: reader, Topic: topic, Codec: codec,
			Token:  func(context.Context) (string, error) { return "", nil },
			Client: func(exchange.Peer) *http.Client { return http.DefaultClient }})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	received := func(n int, origin string) []agent.Item {
		out := make([]agent.Item, n)
		for i := range out {
			at := time.Now().UTC()
			e := events.Event{ID: events.NewID(), Type: events.TypeClassificationChanged, Key: fmt.Sprintf("ipv4-addr--%d", i),
				OriginPeer: origin, Vector: events.VersionVector{origin: int64(i + 1)}, HLC: events.MakeHLC(at.UnixMilli(), 0),
				Actor: events.Actor{Subject: "op", Issuer: "https://idp"}, RequestID: "req", RecordedAt: at, Classification: "UNCLASSIFIED",
				Payload: events.ClassificationChanged{RecordType: "entity", Level: "CONFIDENTIAL", Reason: "test"}}
			v, err := codec.Encode(e)
			if err != nil {
				t.Fatal(err)
			}
			out[i] = agent.Item{EventID: e.ID, HLC: e.HLC, Key: []byte(e.Key), Value: v,
				Headers: map[string]string{exchange.HeaderVia: origin}}
		}
		return out
	}
	inLog := func() map[uuid.UUID]int {
		t.Helper()
		n := map[uuid.UUID]int{}
		if err := kafka.ReadSince(ctx, kc, topic, time.Unix(0, 0), func(r events.LogRecord) error {
			e, err := codec.DecodeEnvelope(r.Value)
			if err != nil {
				return err
			}
			n[e.ID]++
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	once := func(what string, items ...[]agent.Item) {
		t.Helper()
		got := inLog()
		want := 0
		for _, its := range items {
			want += len(its)
			for _, it := range its {
				if got[it.EventID] != 1 {
					t.Fatalf("%s: event %s is in the log %d times", what, it.EventID, got[it.EventID])
				}
			}
		}
		if len(got) != want {
			t.Fatalf("%s: %d events in the log, want %d", what, len(got), want)
		}
	}

	// The database fails after the log acknowledged the batch: the retry
	// finds the batch in the log and appends nothing again.
	first := received(30, "site-b")
	flaky := &failingStore{Store: store, failSettles: 1}
	a1 := newAgent(flaky, producer)
	if _, err := a1.Import(ctx, "site-b", first, exchange.Cursor{0: 30}); err == nil {
		t.Fatal("the settling failed, the import did not")
	}
	if n, err := a1.Import(ctx, "site-b", first, exchange.Cursor{0: 30}); err != nil || n != 0 {
		t.Fatalf("retry after a failed settling: %d fresh, %v; want 0", n, err)
	}
	once("after a failed settling", first)

	// An agent dies after sending 10 of 40 events of a batch.
	second := received(40, "site-c")
	a2 := newAgent(store, &dyingLog{p: producer, left: 10})
	if _, err := a2.Import(ctx, "site-b", second, exchange.Cursor{0: 70}); err == nil {
		t.Fatal("the agent died, the import did not fail")
	}
	// The agent that replaces it pulls from c first: the dead agent's
	// claims hold, nothing of them is appended.
	a3 := newAgent(store, producer)
	if n, err := a3.Import(ctx, "site-c", second, exchange.Cursor{0: 40}); err != nil || n != 0 {
		t.Fatalf("the same events via c while the batch is pending: %d fresh, %v", n, err)
	}
	if c, err := store.Checkpoint(ctx, "site-b"); err != nil || c[0] != 30 {
		t.Fatalf("b's checkpoint after the death: %v %v, want 30", c, err)
	}
	// Resolving (as Run does at its start) keeps the 10 in the log and
	// releases the 30 for the next pull from b.
	if err := a3.Recover(ctx, true); err != nil {
		t.Fatal(err)
	}
	if p, err := store.Pending(ctx); err != nil || len(p) != 0 {
		t.Fatalf("pending after Recover: %+v %v", p, err)
	}
	if n, err := a3.Import(ctx, "site-b", second, exchange.Cursor{0: 70}); err != nil || n != 30 {
		t.Fatalf("the pull from b again: %d fresh, %v; want 30", n, err)
	}
	once("after an agent died in a batch", first, second)

	// The counts add up: every event imported once, the rest duplicates.
	status, err := store.Status(ctx, []string{"site-b", "site-c"})
	if err != nil {
		t.Fatal(err)
	}
	if got := status[0].Imported + status[1].Imported; got != 70 {
		t.Fatalf("imported %d + %d, want 70", status[0].Imported, status[1].Imported)
	}
	if status[0].Checkpoint[0] != 70 || status[1].Checkpoint[0] != 40 {
		t.Fatalf("checkpoints %v %v", status[0].Checkpoint, status[1].Checkpoint)
	}
}
