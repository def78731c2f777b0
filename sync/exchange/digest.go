package exchange

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// RangeDigest summarises the event ids an exporter would send from one
// range of offsets of one partition: anti-entropy compares it with the
// digest of the range it last verified instead of listing the ids again.
type RangeDigest struct {
	Partition   int32
	From, Until int64 // [From, Until)
	Count       int64
	Sum         [sha256.Size]byte
}

// Record encodes d as a record frame.
func (d RangeDigest) Record() Record {
	key := binary.BigEndian.AppendUint64(nil, uint64(d.Until))
	value := binary.BigEndian.AppendUint64(make([]byte, 0, 8+sha256.Size), uint64(d.Count))
	return Record{Partition: d.Partition, Offset: d.From, Key: key, Value: append(value, d.Sum[:]...)}
}

// DigestOf decodes a range digest from a record frame.
func DigestOf(r *Record) (RangeDigest, error) {
	if len(r.Key) != 8 || len(r.Value) != 8+sha256.Size {
		return RangeDigest{}, fmt.Errorf("a digest frame holds a %d-byte key and a %d-byte value", len(r.Key), len(r.Value))
	}
	d := RangeDigest{Partition: r.Partition, From: r.Offset,
		Until: int64(binary.BigEndian.Uint64(r.Key)), Count: int64(binary.BigEndian.Uint64(r.Value))}
	copy(d.Sum[:], r.Value[8:])
	if d.Until <= d.From || d.Count < 0 || d.Count > d.Until-d.From {
		return RangeDigest{}, fmt.Errorf("a digest frame for offsets %d-%d with %d ids", d.From, d.Until, d.Count)
	}
	return d, nil
}
