package graph

import "github.com/google/uuid"

// RetractionCandidate is one contribution whose batch or source a
// retraction names (Retraction.Covers), with what the rule needs of its
// record as it stands when the retraction is applied.
type RetractionCandidate struct {
	RecordKey string
	Type      string // ContributionEntity, ContributionRelation or ContributionEnrichment
	EventID   uuid.UUID
	// Classification is the record's effective level; Endpoint says the
	// record is a vertex known only as a relation endpoint (it has none).
	Classification string
	Endpoint       bool
}

// TakenBack is the rule of a bounded retraction, the one place it is
// decided: of the candidates (the contributions of the retraction's batch
// or source), those r takes back. A contribution to a record r reaches
// (ReachesRecord: at or below r's clearance) is taken back; one to a record
// above it stays, so such a record is left exactly as it was. An event's
// contribution to a vertex also stays while the same event's contribution
// to a relation stays: an edge left in place keeps its ends. Without a
// clearance (ReachAll) every candidate is taken back; with one that names
// no level (reach -1), none. The result keeps the
// candidates' order and depends only on them, so every projector holding
// the same records takes back the same contributions.
func (r Retraction) TakenBack(cands []RetractionCandidate) []RetractionCandidate {
	reach := r.Reach()
	switch {
	case reach == ReachAll:
		return cands
	case reach < 0:
		return nil
	}
	keptEvents := map[uuid.UUID]bool{}
	for _, c := range cands {
		if c.Type == ContributionRelation && !ReachesRecord(reach, c.Classification, false) {
			keptEvents[c.EventID] = true
		}
	}
	out := make([]RetractionCandidate, 0, len(cands))
	for _, c := range cands {
		if !ReachesRecord(reach, c.Classification, c.Endpoint && c.Type == ContributionEntity) {
			continue
		}
		if c.Type == ContributionEntity && keptEvents[c.EventID] {
			continue
		}
		out = append(out, c)
	}
	return out
}
