package enrichstore

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/internal/config/devstack"
)

// testPool returns a pool on a fresh database of the development stack,
// dropped when the test ends. Integration tests run by default; only
// -short skips them.
func testPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), devstack.FreshDatabase(t, "heimdall_test"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// memLog is a one-partition log in memory: appends get consecutive offsets;
// a feeder hands new records to a handler like a consumer would.
type memLog struct {
	topic string
	mu    sync.Mutex
	recs  []events.LogRecord
	fail  bool // acknowledge appends with an error (after storing them)
}

func (l *memLog) Append(_ context.Context, topic string, key, value []byte, _ map[string]string, done func(error)) {
	l.mu.Lock()
	l.recs = append(l.recs, events.LogRecord{Topic: topic, Partition: 0, Offset: int64(len(l.recs)), Key: key, Value: value})
	fail := l.fail
	l.mu.Unlock()
	if fail {
		done(context.DeadlineExceeded)
		return
	}
	done(nil)
}

func (l *memLog) since(off int64) []events.LogRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	if off >= int64(len(l.recs)) {
		return nil
	}
	return append([]events.LogRecord(nil), l.recs[off:]...)
}

func (l *memLog) ends(context.Context, string) (map[int32]int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return map[int32]int64{0: int64(len(l.recs))}, nil
}

type handler interface {
	Offsets(ctx context.Context, topic string, partitions []int32) (map[int32]int64, error)
	Handle(ctx context.Context, records []events.LogRecord) error
}

// feed consumes the log into h from h's stored offset until ctx ends, in
// batches of at most batch records.
func (l *memLog) feed(ctx context.Context, t testing.TB, h handler, batch int) {
	offs, err := h.Offsets(ctx, l.topic, []int32{0})
	if err != nil {
		t.Error(err)
		return
	}
	next := offs[0]
	for ctx.Err() == nil {
		recs := l.since(next)
		if len(recs) == 0 {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if len(recs) > batch {
			recs = recs[:batch]
		}
		if err := h.Handle(ctx, recs); err != nil {
			if ctx.Err() == nil {
				t.Error(err)
			}
			return
		}
		next = recs[len(recs)-1].Offset + 1
	}
}
