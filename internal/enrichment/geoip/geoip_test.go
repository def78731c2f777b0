package geoip

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/heimdallhub/heimdall/internal/enrichment"
)

var edgeLabel = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,62}$`)

func TestProviderContract(t *testing.T) {
	city, asn := fixture(t)
	p := newProvider(t, Config{Name: "geo", Databases: []string{city, asn}, ReloadEvery: -1})
	var _ enrichment.Provider = p
	if p.Name() != "geo" || p.Type() != "geoip" {
		t.Fatalf("Name/Type = %q/%q", p.Name(), p.Type())
	}
	if got := p.Kinds(); !reflect.DeepEqual(got, []string{"ipv4-addr", "ipv6-addr"}) {
		t.Fatalf("Kinds = %v", got)
	}
	if !edgeLabel.MatchString(RelBelongsTo) {
		t.Fatalf("edge label %q is invalid", RelBelongsTo)
	}
	want := "GeoLite2-City@1700000000,GeoLite2-ASN@1700000100"
	if p.Version() != want {
		t.Fatalf("Version = %q, want %q", p.Version(), want)
	}
	dbs := p.Databases()
	if len(dbs) != 2 || dbs[0].Path != city || dbs[0].Type != "GeoLite2-City" || dbs[0].BuildEpoch != cityEpoch ||
		dbs[1].Type != "GeoLite2-ASN" || dbs[1].BuildEpoch != asnEpoch || dbs[1].IPVersion != 6 ||
		dbs[0].Build.Unix() != cityEpoch || dbs[0].Size == 0 {
		t.Fatalf("Databases = %+v", dbs)
	}
	d := newProvider(t, Config{Databases: []string{city}, ReloadEvery: -1})
	if d.Name() != "geoip" {
		t.Fatalf("default Name = %q", d.Name())
	}
}

func TestEnrich(t *testing.T) {
	city, asn := fixture(t)
	p := newProvider(t, Config{Name: "geo", Databases: []string{city, asn}, ReloadEvery: -1})
	london := map[string]string{"country": "GB", "continent": "EU", "city": "London", "latitude": "51.5142",
		"longitude": "-0.0931", "accuracy_radius_km": "20", "registered_country": "GB"}
	with := func(base map[string]string, kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	rel := func(asn, org string) []enrichment.Relation {
		return []enrichment.Relation{{Type: "BELONGS_TO", Target: enrichment.Target{Kind: "autonomous-system", Value: asn},
			Attributes: []enrichment.Attribute{{Name: "as_org", Value: org}}}}
	}
	tests := []struct {
		name     string
		kind     string
		value    string
		notFound bool
		attrs    map[string]string
		rels     []enrichment.Relation
		class    enrichment.Class
	}{
		{name: "ipv4 city and asn", kind: "ipv4-addr", value: "192.0.2.10",
			attrs: with(london, "asn", "64500", "as_org", "Example Networks Ltd", "network", "192.0.2.0/25"),
			rels:  rel("64500", "Example Networks Ltd")},
		{name: "ipv4 city only, network of the city db", kind: "ipv4-addr", value: "192.0.2.200",
			attrs: with(london, "network", "192.0.2.0/24")},
		{name: "ipv4 country record", kind: "ipv4-addr", value: "198.51.100.7",
			attrs: map[string]string{"country": "DE", "continent": "EU", "network": "198.51.100.0/24"}},
		{name: "ipv4 asn only", kind: "ipv4-addr", value: "203.0.113.99",
			attrs: map[string]string{"asn": "64502", "as_org": "Only ASN Inc", "network": "203.0.113.0/24"},
			rels:  rel("64502", "Only ASN Inc")},
		{name: "ipv6 city and asn", kind: "ipv6-addr", value: "2001:db8:1::5",
			attrs: map[string]string{"country": "US", "continent": "NA", "city": "Seattle", "latitude": "47.6062",
				"longitude": "-122.3321", "accuracy_radius_km": "5", "registered_country": "US",
				"asn": "64501", "as_org": "Example IPv6 Transit", "network": "2001:db8::/32"},
			rels: rel("64501", "Example IPv6 Transit")},
		{name: "ipv6 location at 0,0 is kept", kind: "ipv6-addr", value: "2001:db8:2::1",
			attrs: map[string]string{"country": "AQ", "continent": "AN", "city": "Null Island", "latitude": "0",
				"longitude": "0", "accuracy_radius_km": "1000", "registered_country": "AQ",
				"asn": "64501", "as_org": "Example IPv6 Transit", "network": "2001:db8::/32"},
			rels: rel("64501", "Example IPv6 Transit")},
		{name: "ipv4-mapped ipv6", kind: "ipv6-addr", value: "::ffff:192.0.2.10",
			attrs: with(london, "asn", "64500", "as_org", "Example Networks Ltd", "network", "192.0.2.0/25"),
			rels:  rel("64500", "Example Networks Ltd")},
		{name: "ipv4 not found", kind: "ipv4-addr", value: "100.64.1.1", notFound: true},
		{name: "ipv6 not found", kind: "ipv6-addr", value: "2001:db9::1", notFound: true},
		{name: "invalid value", kind: "ipv4-addr", value: "not-an-ip", class: enrichment.ClassRejected},
		{name: "ipv4 with trailing garbage", kind: "ipv4-addr", value: "192.0.2.1/24", class: enrichment.ClassRejected},
		{name: "zoned ipv6", kind: "ipv6-addr", value: "fe80::1%eth0", class: enrichment.ClassRejected},
		{name: "ipv6 value as ipv4 kind", kind: "ipv4-addr", value: "2001:db8:1::5", class: enrichment.ClassRejected},
		{name: "ipv4 value as ipv6 kind", kind: "ipv6-addr", value: "192.0.2.10", class: enrichment.ClassRejected},
		{name: "unsupported kind", kind: "domain-name", value: "example.org", class: enrichment.ClassRejected},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := p.Enrich(context.Background(), enrichment.Request{Key: tc.value, Kind: tc.kind, Value: tc.value})
			if tc.class != "" {
				var e *enrichment.Error
				if !errors.As(err, &e) || e.Class != tc.class {
					t.Fatalf("err = %v, want class %s", err, tc.class)
				}
				if strings.Contains(err.Error(), tc.value) || strings.Contains(enrichment.Reason(err), tc.value) {
					t.Fatalf("error %q quotes the value", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Version != "GeoLite2-City@1700000000,GeoLite2-ASN@1700000100" {
				t.Fatalf("Version = %q", r.Version)
			}
			if r.NotFound != tc.notFound {
				t.Fatalf("NotFound = %v, want %v (%+v)", r.NotFound, tc.notFound, r)
			}
			if tc.notFound {
				if len(r.Attributes) != 0 || len(r.Relations) != 0 {
					t.Fatalf("not-found result carries data: %+v", r)
				}
				return
			}
			if got := attrs(r); !reflect.DeepEqual(got, tc.attrs) {
				t.Fatalf("attributes\n got %v\nwant %v", got, tc.attrs)
			}
			if !reflect.DeepEqual(r.Relations, tc.rels) {
				t.Fatalf("relations\n got %+v\nwant %+v", r.Relations, tc.rels)
			}
		})
	}
}

func TestEnrichAttributeOrder(t *testing.T) {
	city, asn := fixture(t)
	p := newProvider(t, Config{Databases: []string{city, asn}, ReloadEvery: -1})
	r := lookup(t, p, "192.0.2.10")
	var names []string
	for _, a := range r.Attributes {
		names = append(names, a.Name)
	}
	want := []string{"country", "continent", "city", "latitude", "longitude", "accuracy_radius_km",
		"registered_country", "asn", "as_org", "network"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("attribute order %v, want %v", names, want)
	}
}

func TestKindsRestrict(t *testing.T) {
	city, _ := fixture(t)
	p := newProvider(t, Config{Databases: []string{city}, Kinds: []string{"ipv6-addr"}, ReloadEvery: -1})
	_, err := p.Enrich(context.Background(), enrichment.Request{Kind: "ipv4-addr", Value: "192.0.2.10"})
	if enrichment.Classify(err) != enrichment.ClassRejected {
		t.Fatalf("err = %v, want rejected", err)
	}
	if r := lookup(t, p, "2001:db8:1::5"); attrs(r)["city"] != "Seattle" {
		t.Fatalf("ipv6 lookup = %+v", r)
	}
}

func TestEnrichHonoursContext(t *testing.T) {
	city, _ := fixture(t)
	p := newProvider(t, Config{Databases: []string{city}, ReloadEvery: -1})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := p.Enrich(ctx, enrichment.Request{Kind: "ipv4-addr", Value: "192.0.2.10"})
	if enrichment.Classify(err) != enrichment.ClassCanceled {
		t.Fatalf("err = %v, want canceled", err)
	}
}

// An IPv4-only database is skipped for IPv6 addresses instead of failing.
func TestIPv4OnlyDatabase(t *testing.T) {
	dir := t.TempDir()
	v4 := filepath.Join(dir, "v4.mmdb")
	if err := os.WriteFile(v4, buildDB(t, "Test-Country-v4", 1, 4, []entry{
		{"192.0.2.0/24", countryRecord("NL")},
	}), 0o644); err != nil {
		t.Fatal(err)
	}
	_, asn := fixture(t)
	p := newProvider(t, Config{Databases: []string{v4, asn}, ReloadEvery: -1})
	if got := attrs(lookup(t, p, "192.0.2.1")); got["country"] != "NL" || got["asn"] != "64500" {
		t.Fatalf("ipv4 = %v", got)
	}
	if got := attrs(lookup(t, p, "2001:db8:1::1")); got["asn"] != "64501" || got["country"] != "" {
		t.Fatalf("ipv6 = %v", got)
	}
	if r := lookup(t, p, "2001:db9::1"); !r.NotFound {
		t.Fatalf("ipv6 miss = %+v", r)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "corrupt.mmdb")
	if err := os.WriteFile(corrupt, []byte("this is not a MaxMind database"), 0o644); err != nil {
		t.Fatal(err)
	}
	city, _ := fixture(t)
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string
	}{
		{"nothing", Config{}, []string{"no database"}},
		{"bad kinds and paths", Config{Kinds: []string{"domain-name", "ipv4-addr"}, Databases: []string{city, "", city}},
			[]string{`kind "domain-name"`, "empty path", "listed twice"}},
		{"missing file", Config{Databases: []string{filepath.Join(dir, "absent.mmdb"), city}}, []string{"absent.mmdb"}},
		{"corrupt file", Config{Databases: []string{city, corrupt}}, []string{"corrupt.mmdb"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := New(tc.cfg)
			if err == nil {
				_ = p.Close()
				t.Fatal("New accepted the configuration")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func BenchmarkEnrich(b *testing.B) {
	city, asn := fixture(b)
	p := newProvider(b, Config{Databases: []string{city, asn}, ReloadEvery: -1})
	ctx := context.Background()
	for _, bc := range []struct{ name, kind, value string }{
		{"ipv4-hit", "ipv4-addr", "192.0.2.10"},
		{"ipv6-hit", "ipv6-addr", "2001:db8:1::5"},
		{"ipv4-miss", "ipv4-addr", "100.64.1.1"},
	} {
		req := enrichment.Request{Key: bc.value, Kind: bc.kind, Value: bc.value}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Enrich(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(bc.name+"-parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := p.Enrich(ctx, req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
