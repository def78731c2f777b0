package geoip

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"go.uber.org/goleak"

	"github.com/heimdallhub/heimdall/internal/enrichment"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	cityEpoch = 1_700_000_000
	asnEpoch  = 1_700_000_100
)

type entry struct {
	cidr string
	data mmdbtype.Map
}

// buildDB returns a MaxMind DB of type typ holding entries. The test
// networks are documentation prefixes, hence IncludeReservedNetworks.
func buildDB(t testing.TB, typ string, epoch int64, ipVersion int, entries []entry) []byte {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType:            typ,
		BuildEpoch:              epoch,
		IPVersion:               ipVersion,
		RecordSize:              24,
		IncludeReservedNetworks: true,
		Languages:               []string{"en"},
		Description:             map[string]string{"en": "heimdall geoip test database"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		_, n, err := net.ParseCIDR(e.cidr)
		if err != nil {
			t.Fatal(err)
		}
		if err := tree.Insert(n, e.data); err != nil {
			t.Fatalf("insert %s: %v", e.cidr, err)
		}
	}
	var buf bytes.Buffer
	if _, err := tree.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func cityRecord(country, continent, city string, lat, lon float64, radius uint16) mmdbtype.Map {
	m := mmdbtype.Map{
		"country":            mmdbtype.Map{"iso_code": mmdbtype.String(country), "names": mmdbtype.Map{"en": mmdbtype.String(country + " land")}},
		"continent":          mmdbtype.Map{"code": mmdbtype.String(continent)},
		"registered_country": mmdbtype.Map{"iso_code": mmdbtype.String(country)},
	}
	if city != "" {
		m["city"] = mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String(city), "de": mmdbtype.String(city + " (de)")}}
		m["location"] = mmdbtype.Map{"latitude": mmdbtype.Float64(lat), "longitude": mmdbtype.Float64(lon),
			"accuracy_radius": mmdbtype.Uint16(radius), "time_zone": mmdbtype.String("Etc/UTC")}
	}
	return m
}

func asnRecord(n uint32, org string) mmdbtype.Map {
	return mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(n), "autonomous_system_organization": mmdbtype.String(org)}
}

// cityV1 is the City-like database most tests serve.
func cityV1(t testing.TB) []byte {
	return buildDB(t, "GeoLite2-City", cityEpoch, 6, []entry{
		{"192.0.2.0/24", cityRecord("GB", "EU", "London", 51.5142, -0.0931, 20)},
		{"198.51.100.0/24", mmdbtype.Map{ // a Country-database record
			"country":   mmdbtype.Map{"iso_code": mmdbtype.String("DE")},
			"continent": mmdbtype.Map{"code": mmdbtype.String("EU")},
		}},
		{"2001:db8:1::/48", cityRecord("US", "NA", "Seattle", 47.6062, -122.3321, 5)},
		{"2001:db8:2::/48", cityRecord("AQ", "AN", "Null Island", 0, 0, 1000)},
	})
}

// cityV2 answers differently for 192.0.2.0/24 (a later build).
func cityV2(t testing.TB) []byte {
	return buildDB(t, "GeoLite2-City", cityEpoch+86400, 6, []entry{
		{"192.0.2.0/24", cityRecord("FR", "EU", "Paris", 48.8566, 2.3522, 50)},
		{"2001:db8:1::/48", cityRecord("CA", "NA", "Vancouver", 49.2827, -123.1207, 10)},
	})
}

func asnV1(t testing.TB) []byte {
	return buildDB(t, "GeoLite2-ASN", asnEpoch, 6, []entry{
		{"192.0.2.0/25", asnRecord(64500, "Example Networks Ltd")},
		{"203.0.113.0/24", asnRecord(64502, "Only ASN Inc")},
		{"2001:db8::/32", asnRecord(64501, "Example IPv6 Transit")},
	})
}

// writeFile writes b to path in place (truncate and write, as cp does).
func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	before, _ := os.Stat(path)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	ensureNewStat(t, path, before)
}

// replaceFile writes b next to path and renames it over path, as database
// updaters do.
func replaceFile(t testing.TB, path string, b []byte) {
	t.Helper()
	before, _ := os.Stat(path)
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	ensureNewStat(t, path, before)
}

// ensureNewStat makes sure a rewrite is visible to the size+mtime check.
// A rename always gives a new inode; an in-place rewrite of the same size
// within one tick of a coarse file-system clock would not be, so the test
// moves mtime on (a real update is never that quick after the last one).
func ensureNewStat(t testing.TB, path string, before os.FileInfo) {
	t.Helper()
	after, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if before != nil && sameFile(before, after) {
		mt := before.ModTime().Add(time.Second)
		if err := os.Chtimes(path, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
}

// fixture writes the City and ASN databases into a temporary directory.
func fixture(t testing.TB) (city, asn string) {
	t.Helper()
	dir := t.TempDir()
	city, asn = filepath.Join(dir, "GeoLite2-City.mmdb"), filepath.Join(dir, "GeoLite2-ASN.mmdb")
	if err := os.WriteFile(city, cityV1(t), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(asn, asnV1(t), 0o644); err != nil {
		t.Fatal(err)
	}
	return city, asn
}

func newProvider(t testing.TB, cfg Config) *Provider {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func attrs(r enrichment.Result) map[string]string {
	m := map[string]string{}
	for _, a := range r.Attributes {
		if _, dup := m[a.Name]; dup {
			m[a.Name] += "|" + a.Value
			continue
		}
		m[a.Name] = a.Value
	}
	return m
}

func lookup(t testing.TB, p *Provider, value string) enrichment.Result {
	t.Helper()
	kind := KindIPv4
	if strings.Contains(value, ":") {
		kind = KindIPv6
	}
	r, err := p.Enrich(context.Background(), enrichment.Request{Key: value, Kind: kind, Value: value})
	if err != nil {
		t.Fatalf("Enrich: %v", err)
	}
	return r
}

// logBuffer collects log output safely across goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) count(sub string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.buf.String(), sub)
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func countryRecord(iso string) mmdbtype.Map {
	return mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String(iso)}}
}
