package ingest

import (
	"regexp"
	"testing"

	"github.com/heimdallhub/heimdall/events"
)

// TestBatchIDBelongsToActor: the batch id is the same for one actor and
// key, and different whenever the issuer, the subject or the key differs
// (including splits of the same concatenation).
func TestBatchIDBelongsToActor(t *testing.T) {
	alice := events.Actor{Issuer: "https://idp/realms/heimdall", Subject: "alice"}
	cases := []struct {
		name  string
		actor events.Actor
		key   string
	}{
		{"base", alice, "shared-key-0001"},
		{"other subject", events.Actor{Issuer: alice.Issuer, Subject: "bob"}, "shared-key-0001"},
		{"other issuer", events.Actor{Issuer: "https://other-idp", Subject: "alice"}, "shared-key-0001"},
		{"other key", alice, "shared-key-0002"},
		{"boundary shift", events.Actor{Issuer: alice.Issuer, Subject: "alicesh"}, "ared-key-0001"},
		{"issuer and subject swapped", events.Actor{Issuer: "alice", Subject: alice.Issuer}, "shared-key-0001"},
	}
	valid := regexp.MustCompile(`^b1-[0-9a-f]{40}$`)
	seen := map[string]string{}
	for _, c := range cases {
		id := BatchID(c.actor, c.key)
		if id != BatchID(c.actor, c.key) {
			t.Errorf("%s: not deterministic", c.name)
		}
		if !valid.MatchString(id) {
			t.Errorf("%s: %q is not b1- and 40 hex digits", c.name, id)
		}
		if prev, ok := seen[id]; ok {
			t.Errorf("%s and %s share batch id %s", prev, c.name, id)
		}
		seen[id] = c.name
	}
	// A derived id sent back as a key is another batch, so one actor cannot
	// reach another's batch by sending its id.
	if id := BatchID(alice, "k-0000001"); BatchID(events.Actor{Issuer: alice.Issuer, Subject: "bob"}, id) == id {
		t.Error("re-deriving a batch id gave the same id")
	}
}
