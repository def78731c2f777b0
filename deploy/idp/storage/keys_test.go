package storage

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

func kids(keys []*SigningKey) []string {
	var out []string
	for _, k := range keys {
		out = append(out, k.ID())
	}
	return out
}

func TestKeyRingRotationAndRetention(t *testing.T) {
	dir := t.TempDir()
	r, err := OpenKeyRing(dir, "RS256", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	r.now = func() time.Time { return now }
	first := r.Active()
	if first.SignatureAlgorithm() != jose.RS256 || first.ID() == "" {
		t.Fatalf("first key: %s %s", first.SignatureAlgorithm(), first.ID())
	}

	second, err := r.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	if r.Active() != second || second.ID() == first.ID() {
		t.Fatal("rotation did not activate a new key")
	}
	if got := kids(r.Published()); len(got) != 2 || got[0] != second.ID() || got[1] != first.ID() {
		t.Fatalf("published = %v", got)
	}

	// Reopened from disk: same keys, same active key.
	r2, err := OpenKeyRing(dir, "RS256", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	r2.now = r.now
	if r2.Active().ID() != second.ID() || len(r2.Published()) != 2 {
		t.Fatalf("reloaded: active %s, published %v", r2.Active().ID(), kids(r2.Published()))
	}

	// Past the retention the retired key leaves the JWKS, and the next
	// rotation drops it from the file.
	now = now.Add(time.Hour + time.Second)
	if got := kids(r2.Published()); len(got) != 1 || got[0] != second.ID() {
		t.Fatalf("published after retention = %v", got)
	}
	if _, err := r2.Rotate(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, KeysFile))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), first.ID()) {
		t.Error("expired key still in the file")
	}
}

func TestKeyRingAlgorithmChange(t *testing.T) {
	dir := t.TempDir()
	r, err := OpenKeyRing(dir, "RS256", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	rsaKID := r.Active().ID()
	r2, err := OpenKeyRing(dir, "ES256", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if r2.Active().SignatureAlgorithm() != jose.ES256 {
		t.Fatalf("active alg = %s", r2.Active().SignatureAlgorithm())
	}
	if got := kids(r2.Published()); len(got) != 2 || got[1] != rsaKID {
		t.Fatalf("published = %v; the RS256 key must stay until its tokens expire", got)
	}
}

func TestKeyRingRejectsTamperedFile(t *testing.T) {
	dir := t.TempDir()
	r, err := OpenKeyRing(dir, "ES256", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, KeysFile)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tampered := strings.Replace(string(data), r.Active().ID(), "some-other-kid", 1)
	if err := os.WriteFile(path, []byte(tampered), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenKeyRing(dir, "ES256", time.Hour); err == nil || !strings.Contains(err.Error(), "thumbprint") {
		t.Fatalf("err = %v", err)
	}
}

func TestKeyRingInMemory(t *testing.T) {
	r, err := OpenKeyRing("", "ES256", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Rotate(); err != nil {
		t.Fatal(err)
	}
	if len(r.Published()) != 2 {
		t.Fatal("in-memory rotation")
	}
	if _, err := OpenKeyRing("", "HS256", time.Hour); err == nil {
		t.Fatal("HS256 accepted")
	}
}
