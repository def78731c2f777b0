package graph

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/heimdallhub/heimdall/events"
)

// RuleLWWHLC names the rule that resolves conflicting reclassifications:
// last writer wins by (HLC, origin peer id, event id, level).
const RuleLWWHLC = "lww-hlc"

// Record types of a conflict.
const (
	RecordEntity   = "entity"
	RecordRelation = "relation"
)

// Conflict is two reclassifications of one record made concurrently: their
// version vectors are neither equal nor ordered, so neither was made after
// seeing the other. The rule (RuleLWWHLC) resolved it: of the two, Winner
// is the one it prefers, Loser the other (the record keeps the change the
// rule prefers over all of its changes). Every concurrent pair of changes
// of a record is a conflict (NewConflicts), so peers that hold the same
// events record the same conflicts, whatever order the events arrived in.
type Conflict struct {
	RecordType string // RecordEntity or RecordRelation
	RecordKey  string
	Winner     Reclassification
	Loser      Reclassification
	Rule       string
	// DetectedAt is set by the store that recorded the conflict (zero in
	// a batch's Changes).
	DetectedAt time.Time
}

// DetectConflict compares two reclassifications of one record as they
// meet in a merge. It reports a conflict when both are set, are different
// events and their vectors are concurrent; a dominated one is already
// reflected in the other, a dominating one supersedes it: neither is a
// conflict.
func DetectConflict(recordType, key string, a, b Reclassification) (Conflict, bool) {
	if !a.Set() || !b.Set() || a.EventID == b.EventID {
		return Conflict{}, false
	}
	if a.Vector.Compare(b.Vector) != events.Concurrent {
		return Conflict{}, false
	}
	w, l := a, b
	if b.After(a) {
		w, l = b, a
	}
	return Conflict{RecordType: recordType, RecordKey: key, Winner: w, Loser: l, Rule: RuleLWWHLC}, true
}

// Reclassified is one classification change of one record: what the
// conflict log remembers of every change, so that each later change is
// compared with all of them.
type Reclassified struct {
	RecordType string // RecordEntity or RecordRelation
	RecordKey  string
	Reclassification
}

// CompareReclassified orders changes by record type, record key and event
// id.
func CompareReclassified(a, b Reclassified) int {
	if c := strings.Compare(a.RecordType, b.RecordType); c != 0 {
		return c
	}
	if c := strings.Compare(a.RecordKey, b.RecordKey); c != 0 {
		return c
	}
	return bytes.Compare(a.EventID[:], b.EventID[:])
}

// NewConflicts returns the conflicts that added brings into a conflict log
// that holds the changes of history: every pair of concurrent changes of
// one record of which at least one is in added and not in history (by
// event id), once, sorted by compareConflicts. Over any split of a set of
// changes into batches, in any order, the conflicts returned add up to the
// same set: every concurrent pair of the set.
func NewConflicts(history, added []Reclassified) []Conflict {
	type record struct{ typ, key string }
	seen := map[record][]Reclassification{}
	known := map[record]map[uuid.UUID]bool{}
	remember := func(r Reclassified) {
		k := record{r.RecordType, r.RecordKey}
		if known[k] == nil {
			known[k] = map[uuid.UUID]bool{}
		}
		known[k][r.EventID] = true
		seen[k] = append(seen[k], r.Reclassification)
	}
	for _, h := range history {
		if k := (record{h.RecordType, h.RecordKey}); !known[k][h.EventID] {
			remember(h)
		}
	}
	var out []Conflict
	for _, a := range added {
		k := record{a.RecordType, a.RecordKey}
		if known[k][a.EventID] {
			continue
		}
		for _, h := range seen[k] {
			if c, ok := DetectConflict(a.RecordType, a.RecordKey, h, a.Reclassification); ok {
				out = append(out, c)
			}
		}
		remember(a)
	}
	slices.SortFunc(out, compareConflicts)
	return out
}

// conflictKey identifies a conflict: the record and both events (the
// stores' primary key).
type conflictKey struct {
	key           string
	winner, loser [16]byte
}

func (c Conflict) id() conflictKey {
	return conflictKey{c.RecordKey, c.Winner.EventID, c.Loser.EventID}
}

func compareConflicts(a, b Conflict) int {
	if c := strings.Compare(a.RecordKey, b.RecordKey); c != 0 {
		return c
	}
	if c := bytes.Compare(a.Winner.EventID[:], b.Winner.EventID[:]); c != 0 {
		return c
	}
	return bytes.Compare(a.Loser.EventID[:], b.Loser.EventID[:])
}

// ConflictAction is the audit action of a recorded conflict.
const ConflictAction = "sync.conflict"

// ConflictAudit is the audit.recorded event (action sync.conflict, outcome
// resolved) of a conflict detected by peer. Everything in it is derived
// from the conflict: its id from the two events and the detecting peer, so
// a conflict detected again (a replay, a rebuild, a retried append) is the
// same audit entry; its HLC is the winner's, its time the detection's.
func ConflictAudit(c Conflict, peer string) events.Event {
	at := max(c.Winner.HLC, c.Loser.HLC).Time()
	id := events.DeterministicID(at, c.Winner.EventID.String(), c.Loser.EventID.String(), peer)
	recorded := c.DetectedAt.UTC()
	if recorded.IsZero() {
		recorded = at
	}
	return events.Event{
		ID: id, Type: events.TypeAuditRecorded, Key: c.RecordKey, OriginPeer: peer,
		Vector: events.VersionVector{peer: int64(c.Winner.HLC)}, HLC: c.Winner.HLC,
		Actor:     events.Actor{Subject: "graph-projector", Issuer: "heimdall:" + peer},
		RequestID: id.String(), BatchID: id.String(), RecordedAt: recorded,
		Provenance:     events.Provenance{Source: "projector", Format: ConflictAction},
		Classification: currentLevels()[0],
		Payload: events.AuditRecorded{Action: ConflictAction, Outcome: "resolved", Records: []string{c.RecordKey},
			Details: []events.AuditDetail{
				{Name: "record_type", Value: c.RecordType},
				{Name: "rule", Value: c.Rule},
				{Name: "winner_event", Value: c.Winner.EventID.String()},
				{Name: "winner_peer", Value: c.Winner.Peer},
				{Name: "winner_level", Value: c.Winner.Level},
				{Name: "winner_hlc", Value: strconv.FormatInt(int64(c.Winner.HLC), 10)},
				{Name: "loser_event", Value: c.Loser.EventID.String()},
				{Name: "loser_peer", Value: c.Loser.Peer},
				{Name: "loser_level", Value: c.Loser.Level},
				{Name: "loser_hlc", Value: strconv.FormatInt(int64(c.Loser.HLC), 10)},
			}},
	}
}

// ConflictOutbox is where a store keeps recorded conflicts until their
// audit events are in the log (internal/graphstore implements it).
type ConflictOutbox interface {
	// UnauditedConflicts returns up to limit conflicts of the active
	// generation whose audit event has not been acknowledged, oldest
	// first, and the generation.
	UnauditedConflicts(ctx context.Context, limit int) (Generation, []Conflict, error)
	// MarkConflictsAudited records that their audit events are in the log.
	MarkConflictsAudited(ctx context.Context, gen Generation, cs []Conflict) error
}

// ConflictAuditor appends the audit event of every conflict the store
// recorded (ConflictAudit), after the batch that recorded it committed:
// the store keeps conflicts as an outbox, the auditor appends and waits for
// the acknowledgements, then marks them. At least once: a crash between the
// two appends them again, under the same event ids, which the audit trail
// stores once.
type ConflictAuditor struct {
	Outbox ConflictOutbox
	// Append appends events to the audit topic and waits for every
	// acknowledgement.
	Append func(ctx context.Context, es []events.Event) error
	Peer   string        // this peer's id (the detecting peer)
	Every  time.Duration // pause when there is nothing to audit (default 2 s)
	Batch  int           // conflicts per round (default 500)
	Log    *slog.Logger
}

// Round audits one batch of conflicts; it returns how many.
func (a *ConflictAuditor) Round(ctx context.Context) (int, error) {
	n := a.Batch
	if n <= 0 {
		n = 500
	}
	gen, cs, err := a.Outbox.UnauditedConflicts(ctx, n)
	if err != nil || len(cs) == 0 {
		return 0, err
	}
	es := make([]events.Event, len(cs))
	for i, c := range cs {
		es[i] = ConflictAudit(c, a.Peer)
	}
	if err := a.Append(ctx, es); err != nil {
		return 0, fmt.Errorf("appending conflict audit events: %w", err)
	}
	if err := a.Outbox.MarkConflictsAudited(ctx, gen, cs); err != nil {
		return 0, err
	}
	return len(cs), nil
}

// Run audits conflicts until ctx is done. Failures are logged and retried.
func (a *ConflictAuditor) Run(ctx context.Context) error {
	if a.Outbox == nil || a.Append == nil || a.Peer == "" {
		return errors.New("conflict auditor: outbox, append and peer id are required")
	}
	every := a.Every
	if every <= 0 {
		every = 2 * time.Second
	}
	log := a.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for {
		n, err := a.Round(ctx)
		if err != nil && ctx.Err() == nil {
			log.Warn("auditing reclassification conflicts", "err", err)
		}
		if n > 0 && err == nil {
			log.Info("reclassification conflicts audited", "count", n)
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(every):
		}
	}
}
