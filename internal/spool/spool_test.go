package spool

import (
	"bytes"
	"crypto/rand"
	"io"
	"os"
	"testing"
)

func TestRoundTripAndNoPlaintextOnDisk(t *testing.T) {
	dir := t.TempDir()
	for _, size := range []int{0, 1, chunkSize - 1, chunkSize, 3*chunkSize + 17} {
		s, err := Create(dir, 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		data := bytes.Repeat([]byte("canary-4111111111111111 "), size/24+1)[:size]
		if _, err := io.Copy(s, bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		if err := s.Seal(); err != nil {
			t.Fatal(err)
		}
		raw, _ := os.ReadFile(s.f.Name())
		if size > 0 && bytes.Contains(raw, []byte("canary-4111")) {
			t.Fatal("plaintext on disk")
		}
		r, err := s.Open()
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("size %d: round trip failed: %v", size, err)
		}
		if err := s.Remove(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestTamperingAndLimit(t *testing.T) {
	s, err := Create(t.TempDir(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Remove()
	data := make([]byte, 2*chunkSize)
	_, _ = rand.Read(data)
	_, _ = s.Write(data)
	_ = s.Seal()
	// Flip one byte of the first chunk.
	b := []byte{0}
	_, _ = s.f.ReadAt(b, 100)
	b[0] ^= 1
	_, _ = s.f.WriteAt(b, 100)
	r, _ := s.Open()
	if _, err := io.ReadAll(r); err == nil {
		t.Fatal("tampered spool read back")
	}
	if _, err := s.Write(make([]byte, 1<<20)); err != ErrTooLarge {
		t.Fatalf("limit: %v", err)
	}
}
