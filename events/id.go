package events

import (
	"crypto/sha256"
	"encoding/binary"
	"time"

	"github.com/google/uuid"
)

// DeterministicID returns a UUIDv7 whose timestamp is at and whose random bits
// are derived from parts, so the same inputs always give the same id. Ingest
// uses (batch id, record number, index within record): a retried batch gets
// the same event ids and consumers recognise the repeats.
func DeterministicID(at time.Time, parts ...string) uuid.UUID {
	h := sha256.New()
	var n [8]byte
	for _, p := range parts {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
	}
	sum := h.Sum(nil)
	var u uuid.UUID
	ms := uint64(at.UnixMilli())
	u[0] = byte(ms >> 40)
	u[1] = byte(ms >> 32)
	u[2] = byte(ms >> 24)
	u[3] = byte(ms >> 16)
	u[4] = byte(ms >> 8)
	u[5] = byte(ms)
	copy(u[6:], sum[:10])
	u[6] = 0x70 | u[6]&0x0f // version 7
	u[8] = 0x80 | u[8]&0x3f // RFC 9562 variant
	return u
}

// NewID returns a random UUIDv7.
func NewID() uuid.UUID {
	return uuid.Must(uuid.NewV7())
}
