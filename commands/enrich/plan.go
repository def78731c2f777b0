package enrich

import (
	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/internal/observable"
)

// kindsIndex maps an observable kind to the providers accepting it, in
// configuration order.
type kindsIndex map[string][]string

// public reports whether value is the public value of the record key: its
// canonical key is key. A pseudonymised observable's key derives from its
// pseudonym, so its (pseudonym) value never qualifies and is never sent to a
// provider.
func public(key, kind, value string) bool {
	if key == "" || value == "" {
		return false
	}
	o, err := observable.Canonicalize(observable.Kind(kind), value)
	if err != nil {
		return false
	}
	return o.Key() == key && o.Value == value
}

// planRecord turns one decoded event into candidates or a completion.
// seen de-duplicates (provider, key) pairs within a batch.
func planRecord(idx kindsIndex, e events.Event, seen map[[2]string]bool, publicCache map[string]bool) ([]Candidate, *Completion) {
	isPublic := func(ep events.Endpoint) bool {
		if v, ok := publicCache[ep.Key]; ok {
			return v
		}
		v := public(ep.Key, ep.Kind, ep.Value)
		publicCache[ep.Key] = v
		return v
	}
	var out []Candidate
	add := func(ep events.Endpoint, providers []string, force bool) {
		if len(providers) == 0 || !isPublic(ep) {
			return
		}
		for _, p := range providers {
			k := [2]string{p, ep.Key}
			if seen[k] && !force {
				continue
			}
			seen[k] = true
			out = append(out, Candidate{
				Provider: p, Subject: ep, Classification: e.Classification,
				RequestedAt: e.RecordedAt, Force: force, Cause: e.ID,
			})
		}
	}
	switch p := e.Payload.(type) {
	case events.EntityObserved:
		add(events.Endpoint{Key: e.Key, Kind: p.Kind, Value: p.Value}, idx[p.Kind], false)
	case events.RelationObserved:
		add(p.Source, idx[p.Source.Kind], false)
		add(p.Target, idx[p.Target.Kind], false)
	case events.EnrichmentRequested:
		providers := idx[p.Subject.Kind]
		if len(p.Providers) > 0 {
			want := map[string]bool{}
			for _, n := range p.Providers {
				want[n] = true
			}
			var sel []string
			for _, n := range providers {
				if want[n] {
					sel = append(sel, n)
				}
			}
			providers = sel
		}
		if p.Subject.Key == e.Key {
			add(p.Subject, providers, true)
		}
	case events.EnrichmentRecorded:
		return nil, &Completion{
			Provider: p.Provider, RecordKey: e.Key, JobID: p.JobID, EventID: e.ID,
			Outcome: p.Outcome, ErrorClass: p.ErrorClass,
			CompletedAt: p.CompletedAt.UTC(), ExpiresAt: p.ExpiresAt().UTC(),
		}
	}
	return out, nil
}
