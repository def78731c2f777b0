package datakeys

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heimdallhub/heimdall/internal/graphstore"
	"github.com/heimdallhub/heimdall/internal/pii/keys"
	"github.com/heimdallhub/heimdall/internal/pii/policy"
	"github.com/heimdallhub/heimdall/internal/pii/transform"
	"github.com/heimdallhub/heimdall/internal/tlsconf"
)

// freshStore connects to a new database of the development stack.
func freshStore(t *testing.T) (*Store, *pgxpool.Pool) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test against the development stack's PostgreSQL (skipped with -short)")
	}
	adminURL, appURL := os.Getenv("HEIMDALL_POSTGRES_ADMIN_URL"), os.Getenv("HEIMDALL_POSTGRES_URL")
	if adminURL == "" || appURL == "" {
		t.Fatal("HEIMDALL_POSTGRES_URL and HEIMDALL_POSTGRES_ADMIN_URL must be set: source .stack/env (make stack-up)")
	}
	ctx := context.Background()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	db := fmt.Sprintf("heimdall_keys_test_%x", b)
	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+db+" OWNER heimdall"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)")
		admin.Close(context.Background())
	})
	cfg, err := pgx.ParseConfig(appURL)
	if err != nil {
		t.Fatal(err)
	}
	tlsCfg, err := tlsconf.Client(os.Getenv("HEIMDALL_CA_FILE"))
	if err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("postgres://%s:%s@%s:%d/%s?sslmode=verify-full", cfg.User, cfg.Password, cfg.Host, cfg.Port, db)
	pcfg, err := graphstore.PoolConfig(url, graphstore.WithTLSConfig(tlsCfg))
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	s, err := New(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	return s, pool
}

func master(t *testing.T) keys.MasterKey {
	t.Helper()
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	m, err := keys.NewMasterKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Processes starting together create one data key per purpose, not one each.
func TestConcurrentOpenCreatesOneKeyPerPurpose(t *testing.T) {
	s, _ := freshStore(t)
	mk := master(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Open(context.Background(), mk)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	stored, err := s.Stored(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != len(transform.Purposes) {
		t.Fatalf("%d data keys stored, want %d", len(stored), len(transform.Purposes))
	}
}

// Rotation: after a rotate every data key is wrapped by the new master key,
// old data still decrypts with the new key alone, and new writes use data
// keys wrapped by it. A store opened with the wrong master refuses to start.
func TestRotateRewrapsEveryKey(t *testing.T) {
	ctx := context.Background()
	s, _ := freshStore(t)
	oldMK, newMK := master(t), master(t)
	ks, err := s.Open(ctx, oldMK)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := keys.NewPseudonymKeys("pk1", map[string][]byte{"pk1": masterBytes(t)})
	if err != nil {
		t.Fatal(err)
	}
	tr := transform.New(ps, ks)
	rule := encryptRule()
	ct, _, _, err := tr.Apply(rule, "rec-1", "value", "alice@example.org")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(ctx, newMK); !errors.Is(err, transform.ErrWrongMaster) {
		t.Fatalf("opened with an unknown master key: %v", err)
	}
	// During the rotation both keys open everything.
	during, err := s.Open(ctx, newMK, oldMK)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := transform.New(ps, during).Decrypt("rec-1", "value", ct); err != nil || v != "alice@example.org" {
		t.Fatalf("decrypt during rotation: %q %v", v, err)
	}
	rot, err := s.Rotate(ctx, newMK, oldMK)
	if err != nil {
		t.Fatal(err)
	}
	if len(rot.Rewrapped) != len(transform.Purposes) || rot.ByMaster[newMK.ID()] != rot.Keys || len(rot.ByMaster) != 1 {
		t.Fatalf("rotation %+v", rot)
	}
	by, err := s.ByMaster(ctx)
	if err != nil || len(by) != 1 || by[newMK.ID()] == 0 {
		t.Fatalf("keys by master after rotation: %v %v", by, err)
	}
	after, err := s.Open(ctx, newMK)
	if err != nil {
		t.Fatal(err)
	}
	tr2 := transform.New(ps, after)
	if v, err := tr2.Decrypt("rec-1", "value", ct); err != nil || v != "alice@example.org" {
		t.Fatalf("old data after rotation: %q %v", v, err)
	}
	ct2, meta, _, err := tr2.Apply(rule, "rec-2", "value", "bob@example.org")
	if err != nil || meta.MasterKeyID != newMK.ID() {
		t.Fatalf("new write: %+v %v", meta, err)
	}
	if _, err := tr2.Decrypt("rec-2", "value", ct2); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(ctx, oldMK); !errors.Is(err, transform.ErrWrongMaster) {
		t.Fatalf("the old master still opens re-wrapped keys: %v", err)
	}
	// Rotating again changes nothing.
	if rot, err := s.Rotate(ctx, newMK); err != nil || len(rot.Rewrapped) != 0 {
		t.Fatalf("second rotation: %+v %v", rot, err)
	}
}

// A process learns data keys another process created.
func TestReloadLearnsNewKeys(t *testing.T) {
	ctx := context.Background()
	s, _ := freshStore(t)
	mk := master(t)
	a, err := s.Open(ctx, mk)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Open(ctx, mk)
	if err != nil {
		t.Fatal(err)
	}
	id, err := b.NewDataKey(transform.PurposeEncrypt)
	if err != nil {
		t.Fatal(err)
	}
	// b's new key must be stored: Open of a third process stores it.
	if _, err := s.pool.Exec(ctx, `INSERT INTO heimdall_keys.data_keys (id, purpose, master_key_id, wrapped) SELECT $1, $2, $3, $4`,
		id, string(transform.PurposeEncrypt), mk.ID(), wrappedOf(b, id)); err != nil {
		t.Fatal(err)
	}
	if a.Has(id) {
		t.Fatal("known before reload")
	}
	if err := s.Reload(ctx, a); err != nil || !a.Has(id) {
		t.Fatalf("reload: %v", err)
	}
}

func wrappedOf(ks *transform.KeyStore, id string) []byte {
	for _, w := range ks.Wrapped() {
		if w.ID == id {
			return w.Wrapped
		}
	}
	return nil
}

func masterBytes(t *testing.T) []byte {
	t.Helper()
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return b
}

func encryptRule() policy.Rule {
	return policy.Rule{PolicyVersion: "2026-11-28.1", Level: "SECRET", Action: policy.ActionEncrypt}
}
