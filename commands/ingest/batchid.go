package ingest

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"

	"github.com/heimdallhub/heimdall/events"
)

// batchIDPrefix marks batch ids derived by BatchID (version 1 of the
// derivation).
const batchIDPrefix = "b1-"

// BatchID is the id of the batch an actor sends under a client key (its
// Idempotency-Key, or the content-derived key the CLI sends; a random one
// when the client gave none). It is the one place where batch ids are made:
// a SHA-256 of the actor's issuer and subject and the key, so
//
//   - the same actor re-sending the same key gets the same batch id, and
//     with it the same event ids (events.DeterministicID of the batch id and
//     the record's place): nothing is doubled;
//   - two actors using the same key get different batch ids, hence
//     disjoint event ids, separate batch statuses and separate retractions.
//
// The result is "b1-" and 40 lowercase hex digits (160 bits), which is a
// valid Idempotency-Key and batch id itself.
func BatchID(actor events.Actor, key string) string {
	h := sha256.New()
	var n [8]byte
	for _, p := range []string{"heimdall.batch.v1", actor.Issuer, actor.Subject, key} {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
	}
	return batchIDPrefix + hex.EncodeToString(h.Sum(nil)[:20])
}
