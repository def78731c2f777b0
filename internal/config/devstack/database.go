package devstack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// FreshDatabase creates an empty database named prefix_<random> on the
// stack's PostgreSQL (HEIMDALL_POSTGRES_URL) for one test and returns its
// URL; the database is dropped, forcibly, when the test ends. Integration
// tests call it unconditionally: only -short skips them.
func FreshDatabase(t testing.TB, prefix string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test against the development stack's PostgreSQL (skipped with -short)")
	}
	base := os.Getenv(EnvPostgresURL)
	if base == "" {
		t.Fatal("HEIMDALL_POSTGRES_URL is not set: source .stack/env (make stack-up)")
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal("HEIMDALL_POSTGRES_URL is not a URL")
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := prefix + "_" + hex.EncodeToString(b[:])
	exec := func(stmt string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
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
	t.Cleanup(func() {
		for range 50 {
			if exec(`DROP DATABASE IF EXISTS "`+name+`" WITH (FORCE)`) == nil {
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
	u.Path = "/" + name
	return u.String()
}
