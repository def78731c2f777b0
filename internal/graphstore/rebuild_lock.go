package graphstore

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// RebuildKind names what a rebuild recomputes; one rebuild of each kind
// runs at a time (LockRebuild).
type RebuildKind int32

// Rebuild kinds of the graph store.
const (
	RebuildGraph   RebuildKind = 1 // a new generation from the event log
	RebuildVectors RebuildKind = 2 // the look-alike vectors of the active generation
)

func (k RebuildKind) String() string {
	switch k {
	case RebuildGraph:
		return "graph"
	case RebuildVectors:
		return "vectors"
	}
	return fmt.Sprintf("rebuild kind %d", int32(k))
}

// lockClassRebuild is the advisory lock class of rebuilds (object: the
// RebuildKind); session-level, so that a rebuild process that dies, even by
// kill -9, releases it with its connection.
const lockClassRebuild int32 = 0x48524231 // "HRB1"

// ErrRebuildRunning is returned by LockRebuild when another process holds
// the lock of that kind of rebuild.
var ErrRebuildRunning = errors.New("another rebuild of this kind is running")

// LockRebuild takes the lock of a kind of rebuild for the caller's process,
// waiting up to wait for another holder to let go (a killed rebuild's
// connection may take a moment to close). release lets it go.
func (s *Store) LockRebuild(ctx context.Context, kind RebuildKind, wait time.Duration) (release func(), err error) {
	return advisorySessionLock(ctx, s, lockClassRebuild, int32(kind), wait, kind.String())
}

// advisorySessionLock holds a session advisory lock on a connection taken
// from the pool until release.
func advisorySessionLock(ctx context.Context, s *Store, class, object int32, wait time.Duration, what string) (func(), error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("locking the %s rebuild: %w", what, err)
	}
	deadline := time.Now().Add(wait)
	for {
		var ok bool
		if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1, $2)", class, object).Scan(&ok); err != nil {
			conn.Release()
			return nil, fmt.Errorf("locking the %s rebuild: %w", what, err)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			conn.Release()
			return nil, fmt.Errorf("locking the %s rebuild: %w", what, ErrRebuildRunning)
		}
		select {
		case <-ctx.Done():
			conn.Release()
			return nil, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(ctx, "SELECT pg_advisory_unlock($1, $2)", class, object); err != nil {
			// Closing the connection ends the session, and the lock with it.
			_ = conn.Conn().Close(ctx)
		}
		conn.Release()
	}, nil
}
