package syncstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// testPool returns a pool on a fresh database of the development stack,
// dropped when the test ends. Integration tests run by default; only
// -short skips them.
func testPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test against the development stack's PostgreSQL (skipped with -short)")
	}
	base := os.Getenv("HEIMDALL_POSTGRES_URL")
	if base == "" {
		t.Fatal("HEIMDALL_POSTGRES_URL is not set: source .stack/env (make stack-up)")
	}
	ctx := context.Background()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "heimdall_test_" + hex.EncodeToString(b[:])
	exec := func(stmt string) error {
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, stmt)
		return err
	}
	if err := exec(`CREATE DATABASE "` + name + `"`); err != nil {
		t.Fatalf("creating test database: %v", err)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	pool, err := pgxpool.New(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pool.Close()
		for range 50 {
			if exec(`DROP DATABASE IF EXISTS "`+name+`" WITH (FORCE)`) == nil {
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
	return pool
}
