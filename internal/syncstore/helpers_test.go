package syncstore

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heimdallhub/heimdall/internal/config/devstack"
)

// testPool returns a pool on a fresh database of the development stack,
// dropped when the test ends.
func testPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), devstack.FreshDatabase(t, "heimdall_test"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close) // runs before the drop, registered earlier
	return pool
}
