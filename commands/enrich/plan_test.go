package enrich

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/internal/enrichment"
	"github.com/heimdallhub/heimdall/internal/observable"
)

func endpoint(t *testing.T, kind, value string) events.Endpoint {
	t.Helper()
	o, err := observable.Canonicalize(observable.Kind(kind), value)
	if err != nil {
		t.Fatal(err)
	}
	return events.Endpoint{Key: o.Key(), Kind: kind, Value: o.Value}
}

func TestPlanOnlyPublicValuesOfConfiguredKinds(t *testing.T) {
	idx := kindsIndex{"ipv4-addr": {"geo", "rdap"}, "domain-name": {"dns"}}
	ip := endpoint(t, "ipv4-addr", "198.51.100.7")
	dom := endpoint(t, "domain-name", "Example.ORG")
	// A personal IP: its key derives from the pseudonym, its value is the pseudonym.
	personal := events.Endpoint{Key: observable.PersonalKey(observable.KindIPv4Addr, "ps:pk1:abc"), Kind: "ipv4-addr", Value: "ps:pk1:abc"}
	// A value that does not match its key (a forged or corrupted event).
	forged := events.Endpoint{Key: ip.Key, Kind: "ipv4-addr", Value: "203.0.113.9"}
	at := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
	ev := func(key string, p events.Payload) events.Event {
		return events.Event{ID: events.NewID(), Key: key, RecordedAt: at, Classification: "CONFIDENTIAL", Payload: p}
	}
	cases := []struct {
		name string
		e    events.Event
		want []string // provider/key
	}{
		{"entity", ev(ip.Key, events.EntityObserved{Kind: ip.Kind, Value: ip.Value}), []string{"geo/" + ip.Key, "rdap/" + ip.Key}},
		{"personal entity", ev(personal.Key, events.EntityObserved{Kind: personal.Kind, Value: personal.Value}), nil},
		{"forged entity", ev(forged.Key, events.EntityObserved{Kind: forged.Kind, Value: forged.Value}), nil},
		{"kind without provider", ev("url--x", events.EntityObserved{Kind: "url", Value: "https://example.org/"}), nil},
		{"relation endpoints", ev("relationship--r", events.RelationObserved{RelationType: "RESOLVES_TO", Source: dom, Target: personal}), []string{"dns/" + dom.Key}},
		{"request for one provider", ev(ip.Key, events.EnrichmentRequested{Subject: ip, Providers: []string{"rdap", "unknown"}}), []string{"rdap/" + ip.Key}},
		{"request for all", ev(ip.Key, events.EnrichmentRequested{Subject: ip, Providers: []string{}}), []string{"geo/" + ip.Key, "rdap/" + ip.Key}},
		{"request keyed elsewhere", ev(dom.Key, events.EnrichmentRequested{Subject: ip}), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cs, comp := planRecord(idx, c.e, map[[2]string]bool{}, map[string]bool{})
			if comp != nil {
				t.Fatalf("completion %+v", comp)
			}
			var got []string
			for _, x := range cs {
				got = append(got, x.Provider+"/"+x.Subject.Key)
				if x.Classification != "CONFIDENTIAL" || !x.RequestedAt.Equal(at) || x.Cause != c.e.ID {
					t.Fatalf("candidate %+v", x)
				}
				if _, ok := c.e.Payload.(events.EnrichmentRequested); ok != x.Force {
					t.Fatalf("force %v for %T", x.Force, c.e.Payload)
				}
			}
			if !slices.Equal(got, c.want) {
				t.Fatalf("candidates %v, want %v", got, c.want)
			}
		})
	}
	// A record seen twice in a batch gives one candidate.
	seen := map[[2]string]bool{}
	a, _ := planRecord(idx, cases[0].e, seen, map[string]bool{})
	b, _ := planRecord(idx, cases[0].e, seen, map[string]bool{})
	if len(a) != 2 || len(b) != 0 {
		t.Fatalf("dedup: %d then %d", len(a), len(b))
	}
	// A result becomes a completion.
	res := ev(ip.Key, events.EnrichmentRecorded{Provider: "geo", JobID: "j", Outcome: events.EnrichmentOK, CompletedAt: at, TTLSeconds: 60})
	_, comp := planRecord(idx, res, map[[2]string]bool{}, map[string]bool{})
	if comp == nil || comp.JobID != "j" || comp.EventID != res.ID || !comp.ExpiresAt.Equal(at.Add(time.Minute)) {
		t.Fatalf("completion %+v", comp)
	}
}

// typed is a provider that is never called.
type typed struct{ typ string }

func (typed) Name() string    { return "geo" }
func (p typed) Type() string  { return p.typ }
func (typed) Kinds() []string { return []string{"ipv4-addr"} }
func (typed) Enrich(context.Context, enrichment.Request) (enrichment.Result, error) {
	return enrichment.Result{}, errors.New("not called")
}

func nanValue() float64 { return math.NaN() }

func TestPayloadCleansProviderAnswers(t *testing.T) {
	ip := endpoint(t, "ipv4-addr", "198.51.100.7")
	spec := &providerSpec{name: "geo", provider: typed{"geoip"}, ttl: time.Hour, negativeTTL: time.Minute}
	job := Job{ID: "job-1", Provider: "geo", Subject: ip, RequestedAt: time.Unix(100, 0)}
	scrub := func(s string) string { return strings.ReplaceAll(s, "alice@example.org", "ps:pk1:x") }
	res := enrichment.Result{
		Version: "db@1",
		Attributes: []enrichment.Attribute{
			{Name: "country", Value: " NL "}, {Name: "country", Value: "NL"}, {Name: "Bad Name", Value: "x"},
			{Name: "abuse", Value: "mail alice@example.org"}, {Name: "empty", Value: "  "},
			{Name: "long", Value: strings.Repeat("é", 400)}, {Name: "nul", Value: "a\x00b"},
		},
		Relations: []enrichment.Relation{
			{Type: "BELONGS_TO", Target: enrichment.Target{Kind: "autonomous-system", Value: "AS64500"}},
			{Type: "BELONGS_TO", Target: enrichment.Target{Kind: "autonomous-system", Value: "64500"}}, // same edge
			{Type: "PTR", Target: enrichment.Target{Kind: "domain-name", Value: "Host.Example.NET."}},
			{Type: "RESOLVES_TO", Target: enrichment.Target{Kind: "domain-name", Value: "www.example.net"}, Reverse: true},
			{Type: "bad label", Target: enrichment.Target{Kind: "domain-name", Value: "x.example"}},
			{Type: "PTR", Target: enrichment.Target{Kind: "domain-name", Value: "not a domain!"}},
			{Type: "SELF", Target: enrichment.Target{Kind: "ipv4-addr", Value: "198.51.100.7"}},
		},
		Vector: []float32{1, float32(nanValue())},
	}
	p := payload(spec, job, res, nil, 2, time.Unix(200, 0), scrub)
	if p.Outcome != events.EnrichmentOK || p.TTLSeconds != 3600 || p.Attempts != 2 || p.DataVersion != "db@1" || p.JobID != "job-1" {
		t.Fatalf("payload %+v", p)
	}
	names := map[string]string{}
	for _, a := range p.Attributes {
		names[a.Name] = a.Value
	}
	if names["country"] != "NL" || names["abuse"] != "mail ps:pk1:x" || names["nul"] != "ab" || len(names["long"]) > maxAttributeBytes ||
		len(p.Attributes) != 4 {
		t.Fatalf("attributes %+v", p.Attributes)
	}
	if len(p.Relations) != 3 {
		t.Fatalf("relations %+v", p.Relations)
	}
	as := p.Relations[0]
	if as.Source != ip || as.Target.Kind != "autonomous-system" || as.Target.Value != "64500" ||
		as.Key != observable.RelationKey(ip.Key, "BELONGS_TO", as.Target.Key) {
		t.Fatalf("as relation %+v", as)
	}
	if ptr := p.Relations[1]; ptr.Target.Value != "host.example.net" {
		t.Fatalf("ptr relation %+v", ptr)
	}
	if rev := p.Relations[2]; rev.Target != ip || rev.Source.Value != "www.example.net" {
		t.Fatalf("reverse relation %+v", rev)
	}
	if len(p.Vector) != 0 {
		t.Fatalf("a vector with NaN was kept: %v", p.Vector)
	}

	// Not found and failures carry no data and the negative TTL.
	nf := payload(spec, job, enrichment.Result{NotFound: true, Attributes: res.Attributes}, nil, 1, time.Unix(200, 0), scrub)
	if nf.Outcome != events.EnrichmentNotFound || nf.TTLSeconds != 60 || len(nf.Attributes) != 0 {
		t.Fatalf("not found %+v", nf)
	}
	err := &enrichment.Error{Class: enrichment.ClassRateLimited, Reason: "the provider answered 429", Err: errors.New("GET https://x/?ip=198.51.100.7")}
	f := payload(spec, job, res, err, 4, time.Unix(200, 0), scrub)
	if f.Outcome != events.EnrichmentFailed || f.ErrorClass != "rate_limited" || f.TTLSeconds != 60 || len(f.Relations) != 0 ||
		strings.Contains(f.ErrorReason, "198.51") {
		t.Fatalf("failure %+v", f)
	}
}
