package e2e

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/miekg/dns"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/internal/config/devstack"
	"github.com/heimdallhub/heimdall/internal/observable"
)

// The enrichment tests run Heimdall's enricher against local stand-ins of
// the external providers (the only stand-ins the rules allow): MaxMind
// databases built here, a DNS-over-TLS server, an RDAP server and a
// reputation API, all on TLS 1.3 with the development CA's certificate.

// enrichIP is the i-th test address (TEST-NET-2 and TEST-NET-3).
func enrichIP(i int) string {
	if i < 250 {
		return fmt.Sprintf("198.51.100.%d", i+1)
	}
	return fmt.Sprintf("203.0.%d.%d", 113+(i-250)/250, (i-250)%250+1)
}

func enrichDomain(i int) string { return fmt.Sprintf("host-%d.example.test", i) }

func keyOf(t testing.TB, kind observable.Kind, v string) string {
	t.Helper()
	o, err := observable.Canonicalize(kind, v)
	if err != nil {
		t.Fatal(err)
	}
	return o.Key()
}

// writeGeoDatabases builds a City-like and an ASN database with maxmind's
// writer: 198.51.100.0/24 is NL in AS 64500, 203.0.113.0/24 is DE in AS 64501.
func writeGeoDatabases(t *testing.T, dir string) (city, asn string) {
	t.Helper()
	write := func(name, typ string, rows map[string]mmdbtype.Map) string {
		w, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: typ, Description: map[string]string{"en": "Heimdall test " + typ}, IncludeReservedNetworks: true, RecordSize: 24})
		if err != nil {
			t.Fatal(err)
		}
		for cidr, m := range rows {
			_, n, err := net.ParseCIDR(cidr)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Insert(n, m); err != nil {
				t.Fatal(err)
			}
		}
		path := filepath.Join(dir, name)
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.WriteTo(f); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		return path
	}
	country := func(iso, continent string) mmdbtype.Map {
		return mmdbtype.Map{
			"country":   mmdbtype.Map{"iso_code": mmdbtype.String(iso)},
			"continent": mmdbtype.Map{"code": mmdbtype.String(continent)},
			"location":  mmdbtype.Map{"latitude": mmdbtype.Float64(52.37), "longitude": mmdbtype.Float64(4.89), "accuracy_radius": mmdbtype.Uint16(100)},
		}
	}
	city = write("city.mmdb", "GeoLite2-City", map[string]mmdbtype.Map{
		"198.51.100.0/24": country("NL", "EU"), "203.0.113.0/24": country("DE", "EU"),
	})
	asn = write("asn.mmdb", "GeoLite2-ASN", map[string]mmdbtype.Map{
		"198.51.100.0/24": {"autonomous_system_number": mmdbtype.Uint32(64500), "autonomous_system_organization": mmdbtype.String("Example Networks")},
		"203.0.113.0/24":  {"autonomous_system_number": mmdbtype.Uint32(64501), "autonomous_system_organization": mmdbtype.String("Other Networks")},
	})
	return city, asn
}

// startDoT serves DNS over TLS 1.3: PTR ptr-<i>.example.test for every test
// address, A records for host-<i>.example.test.
func startDoT(t *testing.T, st devstack.Stack) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", st.ServerTLSConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{Net: "tcp-tls", Listener: ln, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		q := r.Question[0]
		switch q.Qtype {
		case dns.TypePTR:
			ip := reverseToIP(q.Name)
			if ip != "" {
				m.Answer = append(m.Answer, &dns.PTR{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: 60},
					Ptr: "ptr-" + strings.ReplaceAll(ip, ".", "-") + ".example.test."})
			}
		case dns.TypeA:
			var i int
			if _, err := fmt.Sscanf(q.Name, "host-%d.example.test.", &i); err == nil {
				m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
					A: net.ParseIP(enrichIP(i))})
			}
		}
		if len(m.Answer) == 0 && q.Qtype != dns.TypeAAAA {
			m.Rcode = dns.RcodeNameError
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return ln.Addr().String()
}

func reverseToIP(name string) string {
	parts := strings.Split(strings.TrimSuffix(name, ".in-addr.arpa."), ".")
	if len(parts) != 4 {
		return ""
	}
	return parts[3] + "." + parts[2] + "." + parts[1] + "." + parts[0]
}

// fakeProviders serves RDAP and a reputation API over TLS 1.3 and counts
// the reputation calls per address.
type fakeProviders struct {
	url      string
	repDelay time.Duration
	mu       sync.Mutex
	repCalls map[string]int
	badAuth  atomic.Int64
}

func startFakeProviders(t *testing.T, st devstack.Stack, repDelay time.Duration) *fakeProviders {
	t.Helper()
	f := &fakeProviders{repDelay: repDelay, repCalls: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /rdap/ip/{ip}", func(w http.ResponseWriter, r *http.Request) {
		ip := r.PathValue("ip")
		w.Header().Set("Content-Type", "application/rdap+json")
		fmt.Fprintf(w, `{"objectClassName":"ip network","handle":"NET-%s","name":"TEST-NET","type":"ASSIGNMENT","country":"NL",
			"startAddress":"%s","endAddress":"%s","ipVersion":"v4",
			"entities":[{"objectClassName":"entity","roles":["registrant"],"vcardArray":["vcard",[["version",{},"text","4.0"],["fn",{},"text","Example Org"],["kind",{},"text","org"]]]},
			{"objectClassName":"entity","roles":["abuse"],"vcardArray":["vcard",[["version",{},"text","4.0"],["fn",{},"text","Jane Roe"],["kind",{},"text","individual"],["email",{},"text","jane.roe@example.org"],["tel",{},"text","+31 20 555 0100"]]]}],
			"events":[{"eventAction":"registration","eventDate":"2001-02-03T04:05:06Z"}]}`, strings.ReplaceAll(ip, ".", "-"), ip, ip)
	})
	mux.HandleFunc("GET /rdap/domain/{name}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/rdap+json")
		fmt.Fprintf(w, `{"objectClassName":"domain","handle":"D-%s","ldhName":"%s","status":["active"],
			"nameservers":[{"objectClassName":"nameserver","ldhName":"ns1.example.test"}],
			"entities":[{"objectClassName":"entity","roles":["registrar"],"vcardArray":["vcard",[["version",{},"text","4.0"],["fn",{},"text","Example Registrar"]]]}]}`,
			r.PathValue("name"), r.PathValue("name"))
	})
	mux.HandleFunc("GET /rep/check", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Key") != "rep-secret" {
			f.badAuth.Add(1)
			http.Error(w, "unauthorised", http.StatusUnauthorized)
			return
		}
		ip := r.URL.Query().Get("ipAddress")
		f.mu.Lock()
		f.repCalls[ip]++
		f.mu.Unlock()
		time.Sleep(f.repDelay)
		score := 10
		if strings.HasSuffix(ip, ".7") {
			score = 90
		}
		fmt.Fprintf(w, `{"data":{"ipAddress":%q,"abuseConfidenceScore":%d,"usageType":"Data Center"}}`, ip, score)
	})
	srv := &http.Server{Handler: mux, TLSConfig: st.ServerTLSConfig(t)}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", srv.TLSConfig)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	f.url = "https://" + ln.Addr().String()
	return f
}

func (f *fakeProviders) calls() (total int, max int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, n := range f.repCalls {
		total += n
		if n > max {
			max = n
		}
	}
	return total, max
}

// providersFile writes the providers configuration.
func providersFile(t *testing.T, st devstack.Stack, city, asn, dot string, f *fakeProviders, repConcurrency int) string {
	t.Helper()
	y := fmt.Sprintf(`providers:
  - name: geo
    type: geoip
    rate: 1000
    burst: 100
    geoip: {databases: [%q, %q], reload_every: 1s}
  - name: dns
    type: dns
    kinds: [ipv4-addr, domain-name]
    rate: 500
    burst: 50
    ca_file: %q
    dns: {server: %q, server_name: localhost}
  - name: rdap
    type: rdap
    kinds: [ipv4-addr, domain-name]
    rate: 500
    burst: 50
    ca_file: %q
    rdap: {base_url: "%s/rdap/"}
  - name: rep
    type: http
    kinds: [ipv4-addr]
    rate: 500
    burst: 10
    concurrency: %d
    ttl: 1h
    ca_file: %q
    http:
      url: "%s/rep/check?ipAddress={value}"
      auth_header: Key
      auth_env: E2E_REP_KEY
      fields: {score: data.abuseConfidenceScore, usage: data.usageType}
      verdict: {path: data.abuseConfidenceScore, malicious: 75, suspicious: 25}
`, city, asn, st.CAFile, dot, st.CAFile, f.url, repConcurrency, st.CAFile, f.url)
	path := filepath.Join(t.TempDir(), "providers.yaml")
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func dnsLines(first, n int) []byte {
	var b bytes.Buffer
	for i := first; i < first+n; i++ {
		fmt.Fprintf(&b, `{"ts":"2026-11-27T10:%02d:%02dZ","query":%q,"answer":%q}`+"\n", i/60%60, i%60, enrichDomain(i), enrichIP(i))
	}
	return b.Bytes()
}

type enrichmentsView struct {
	Enrichments []struct {
		Provider    string `json:"provider"`
		Outcome     string `json:"outcome"`
		ErrorClass  string `json:"error_class"`
		EventID     string `json:"event_id"`
		Attempts    int    `json:"attempts"`
		DataVersion string `json:"data_version"`
		Attributes  []struct {
			Name, Value string
		} `json:"attributes"`
		Relations []string `json:"relations"`
	} `json:"enrichments"`
}

// waitEnriched waits until key has a result of every provider in want.
func (in *instance) waitEnriched(key string, want []string, within time.Duration) enrichmentsView {
	in.t.Helper()
	deadline := time.Now().Add(within)
	for {
		var v enrichmentsView
		code := in.get("/v1/entities/"+key+"/enrichments", &v)
		got := map[string]bool{}
		for _, e := range v.Enrichments {
			got[e.Provider] = true
		}
		all := code == http.StatusOK
		for _, p := range want {
			all = all && got[p]
		}
		if all {
			return v
		}
		if time.Now().After(deadline) {
			in.t.Fatalf("%s: enrichments %+v (status %d) after %v, want %v\n%s", key, v, code, within, want, in.allLogs())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// enrichmentResults counts the enrichment.recorded events of the log per
// provider/record key.
// waitReputation waits until the first n enrichIP addresses have a
// result of the reputation provider rep on the log.
func (in *instance) waitReputation(n int, within time.Duration, when string) {
	in.t.Helper()
	deadline := time.Now().Add(within)
	for {
		results := in.enrichmentResults()
		done := 0
		for i := range n {
			if results["rep/"+keyOf(in.t, observable.KindIPv4Addr, enrichIP(i))] > 0 {
				done++
			}
		}
		if done == n {
			return
		}
		if time.Now().After(deadline) {
			in.t.Fatalf("%d of %d addresses enriched %s\n%s", done, n, when, in.allLogs())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (in *instance) enrichmentResults() map[string]int {
	in.t.Helper()
	out := map[string]int{}
	for _, r := range in.topicRecords(in.eventsT) {
		e, err := decodeEvent(r.Value)
		if err != nil {
			in.t.Fatal(err)
		}
		if p, ok := e.Payload.(events.EnrichmentRecorded); ok {
			out[p.Provider+"/"+e.Key]++
		}
	}
	return out
}

// TestEnrichmentResultsInTheGraph: GeoIP/ASN, DNS, RDAP and a reputation
// API enrich ingested addresses and domains; the results are visible
// through the query API as attributes with their source and provenance,
// as edges to new vertices (autonomous systems, PTR names), and as the
// enrichment view; status, re-enrichment on demand and metrics work.
func TestEnrichmentResultsInTheGraph(t *testing.T) {
	in := newInstance(t)
	dir := t.TempDir()
	city, asn := writeGeoDatabases(t, dir)
	dot := startDoT(t, in.st)
	fake := startFakeProviders(t, in.st, 0)
	path := providersFile(t, in.st, city, asn, dot, fake, 4)
	extra := map[string]string{"HEIMDALL_COMPONENTS": "api,ingest,projector,enricher", "HEIMDALL_ENRICH_PROVIDERS": path, "E2E_REP_KEY": "rep-secret"}
	in.serve("serve", extra)
	const n = 12
	res := in.mustIngest(dnsLines(0, n), "source=dns-export&format=ndjson&profile=generic")
	if res.Accepted != n {
		t.Fatalf("ingest %+v", res)
	}

	for i := range n {
		ipKey := keyOf(t, observable.KindIPv4Addr, enrichIP(i))
		v := in.waitEnriched(ipKey, []string{"geo", "dns", "rdap", "rep"}, 90*time.Second)
		for _, e := range v.Enrichments {
			if e.Outcome != "ok" || e.EventID == "" || e.Attempts < 1 {
				t.Fatalf("%s: %+v", enrichIP(i), e)
			}
		}
		domKey := keyOf(t, observable.KindDomainName, enrichDomain(i))
		in.waitEnriched(domKey, []string{"dns", "rdap"}, 60*time.Second)
	}
	in.waitProjected(in.store(), time.Minute)

	// The address: attributes per provider, sources, provenance, edges.
	ip := enrichIP(6) // 198.51.100.7: the reputation API says malicious
	ipKey := keyOf(t, observable.KindIPv4Addr, ip)
	var ent struct {
		Attributes map[string][]string `json:"attributes"`
		Sources    []string            `json:"sources"`
		OutEdges   map[string]int      `json:"out_edges"`
		InEdges    map[string]int      `json:"in_edges"`
		Provenance []struct {
			EventType string `json:"event_type"`
			Source    string `json:"source"`
			Actor     string `json:"actor"`
			Format    string `json:"format"`
		} `json:"provenance"`
	}
	if code := in.get("/v1/entities/"+ipKey, &ent); code != http.StatusOK {
		t.Fatalf("entity: %d", code)
	}
	want := map[string]string{
		"geo.country": "NL", "geo.asn": "64500", "geo.as_org": "Example Networks",
		"dns.ptr": "ptr-198-51-100-7.example.test", "rdap.name": "TEST-NET", "rdap.country": "NL",
		"rep.score": "90", "rep.verdict": "malicious", "rep.usage": "Data Center",
	}
	for name, value := range want {
		if vs := ent.Attributes[name]; len(vs) != 1 || vs[0] != value {
			t.Errorf("attribute %s = %v, want %q (all: %v)", name, vs, value, ent.Attributes)
		}
	}
	for _, s := range []string{"enrichment/geo", "enrichment/dns", "enrichment/rdap", "enrichment/rep", "dns-export"} {
		if !strings.Contains(strings.Join(ent.Sources, ","), s) {
			t.Errorf("sources %v lack %s", ent.Sources, s)
		}
	}
	provs := map[string]bool{}
	for _, p := range ent.Provenance {
		if p.EventType == events.TypeEnrichmentRecorded {
			provs[p.Source+"/"+p.Format] = true
			if p.Actor != "enrichment-worker" {
				t.Errorf("enrichment provenance actor %q", p.Actor)
			}
		}
	}
	for _, s := range []string{"enrichment/geo/geoip", "enrichment/dns/dns", "enrichment/rdap/rdap", "enrichment/rep/http"} {
		if !provs[s] {
			t.Errorf("no provenance %s in %+v", s, ent.Provenance)
		}
	}
	if ent.OutEdges["BELONGS_TO"] != 1 || ent.OutEdges["PTR"] != 1 || ent.InEdges["RESOLVES_TO"] < 1 {
		t.Errorf("edges out %v in %v", ent.OutEdges, ent.InEdges)
	}
	// No personal data of the RDAP contacts reached the graph.
	raw, _ := json.Marshal(ent)
	for _, needle := range []string{"Jane Roe", "jane.roe@example.org", "555 0100"} {
		if bytes.Contains(raw, []byte(needle)) {
			t.Errorf("personal data %q from RDAP in the entity", needle)
		}
	}
	// The autonomous system and the PTR name are vertices of their own.
	var as struct {
		Kind     string         `json:"kind"`
		Value    string         `json:"value"`
		Sources  []string       `json:"sources"`
		InEdges  map[string]int `json:"in_edges"`
		Observed bool           `json:"observed"`
	}
	asKey := keyOf(t, observable.KindAutonomousSystem, "64500")
	if code := in.get("/v1/entities/"+asKey, &as); code != http.StatusOK || as.Value != "64500" || as.InEdges["BELONGS_TO"] < 1 ||
		strings.Join(as.Sources, ",") != "enrichment/geo" {
		t.Errorf("autonomous system %d %+v", code, as)
	}
	ptrKey := keyOf(t, observable.KindDomainName, "ptr-198-51-100-7.example.test")
	if code := in.get("/v1/entities/"+ptrKey, &as); code != http.StatusOK || as.InEdges["PTR"] != 1 {
		t.Errorf("PTR vertex %d %+v", code, as)
	}
	// The domain: forward DNS and RDAP registrar and name servers.
	domKey := keyOf(t, observable.KindDomainName, enrichDomain(6))
	if code := in.get("/v1/entities/"+domKey, &ent); code != http.StatusOK ||
		strings.Join(ent.Attributes["rdap.registrar"], ",") != "Example Registrar" || ent.OutEdges["RESOLVES_TO"] < 1 || ent.OutEdges["HAS_NAMESERVER"] != 1 {
		t.Errorf("domain %d attributes %v edges %v", code, ent.Attributes, ent.OutEdges)
	}

	// Every record got one result per provider, and none twice.
	results := in.enrichmentResults()
	for key, c := range results {
		if c != 1 {
			t.Errorf("%s enriched %d times", key, c)
		}
	}
	if total, _ := fake.calls(); total != n || fake.badAuth.Load() != 0 {
		t.Errorf("reputation calls %d (bad auth %d), want %d", total, fake.badAuth.Load(), n)
	}

	// Status.
	cli := map[string]string{"HEIMDALL_CLIENT_ID": devstack.ClientCLI, "HEIMDALL_CLIENT_SECRET": in.st.ClientSecret(t, devstack.ClientCLI),
		"HEIMDALL_API_URL": "https://" + in.addr}
	out, err := in.run(cli, "enrich", "status", "-json")
	if err != nil {
		t.Fatalf("enrich status: %v\n%s", err, out)
	}
	var status struct {
		Lag       int64 `json:"consumer_lag"`
		Providers []struct {
			Provider string           `json:"provider"`
			Pending  int64            `json:"pending"`
			Results  int64            `json:"results"`
			Outcomes map[string]int64 `json:"outcomes"`
		} `json:"providers"`
	}
	if err := json.Unmarshal([]byte(out), &status); err != nil || len(status.Providers) != 4 {
		t.Fatalf("status %v: %s", err, out)
	}
	for _, p := range status.Providers {
		wantN := int64(2 * n)
		if p.Provider == "geo" || p.Provider == "rep" {
			wantN = n
		}
		if p.Results != wantN || p.Pending != 0 || p.Outcomes["ok"] != wantN {
			t.Errorf("status of %s: %+v, want %d results", p.Provider, p, wantN)
		}
	}

	// Re-enrichment on demand, through the CLI: one new result, the TTL
	// notwithstanding.
	out, err = in.run(cli, "enrich", "request", "-provider", "rep", "-reason", "analyst asked", ipKey)
	if err != nil || !strings.Contains(out, ipKey) {
		t.Fatalf("enrich request: %v\n%s", err, out)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		fake.mu.Lock()
		c := fake.repCalls[ip]
		fake.mu.Unlock()
		if c == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no re-enrichment: %d calls\n%s", c, in.allLogs())
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second)
	results = in.enrichmentResults()
	if results["rep/"+ipKey] != 2 || results["geo/"+ipKey] != 1 {
		t.Errorf("after the request: rep %d geo %d", results["rep/"+ipKey], results["geo/"+ipKey])
	}

	// Metrics per provider.
	resp, err := in.client.Get("https://" + in.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var mb bytes.Buffer
	_, _ = mb.ReadFrom(resp.Body)
	for _, m := range []string{`heimdall_enrich_provider_calls_total{outcome="ok",provider="geo"}`, `heimdall_enrich_results_total{class="",outcome="ok",provider="rdap"}`,
		`heimdall_enrich_provider_breaker_state{provider="rep"} 0`, `heimdall_enrich_backlog_jobs{provider="dns"}`, `heimdall_enrich_cache_hits_total`} {
		if !strings.Contains(mb.String(), m) {
			t.Errorf("metrics lack %s", m)
		}
	}
	if bytes.Contains(mb.Bytes(), []byte("198.51.100")) {
		t.Error("an enriched value appears in the metrics")
	}
}

// TestEnrichmentSurvivesKill9: the enricher is killed with SIGKILL while
// calling a slow provider; after a restart every address has exactly one
// result per provider in the log: none lost, none enriched twice within
// its TTL.
func TestEnrichmentSurvivesKill9(t *testing.T) {
	in := newInstance(t)
	dir := t.TempDir()
	city, asn := writeGeoDatabases(t, dir)
	dot := startDoT(t, in.st)
	fake := startFakeProviders(t, in.st, 15*time.Millisecond)
	path := providersFile(t, in.st, city, asn, dot, fake, 2)
	in.serve("api", map[string]string{"HEIMDALL_COMPONENTS": "api,ingest"})
	const n = 400
	in.mustIngest(dnsLines(0, n), "source=dns-export&format=ndjson&profile=generic")
	extra := map[string]string{"HEIMDALL_COMPONENTS": "enricher", "HEIMDALL_ENRICH_PROVIDERS": path, "E2E_REP_KEY": "rep-secret",
		"HEIMDALL_PROJECTOR_BATCH_SIZE": "50"}
	first := in.start("enricher", extra, "serve")
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if total, _ := fake.calls(); total >= n/4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no progress before the kill\n%s", in.logs("enricher"))
		}
		time.Sleep(10 * time.Millisecond)
	}
	first.kill9(t)
	before, _ := fake.calls()
	if before >= n {
		t.Fatalf("the enricher finished before the kill (%d calls)", before)
	}
	t.Logf("enricher killed after %d of %d reputation calls", before, n)
	in.start("enricher-restarted", extra, "serve")
	in.waitReputation(n, 3*time.Minute, "after the restart")
	time.Sleep(2 * time.Second) // anything doubled would show up now
	results := in.enrichmentResults()
	for i := range n {
		ipKey := keyOf(t, observable.KindIPv4Addr, enrichIP(i))
		domKey := keyOf(t, observable.KindDomainName, enrichDomain(i))
		for _, k := range []string{"rep/" + ipKey, "geo/" + ipKey, "dns/" + ipKey, "rdap/" + ipKey, "dns/" + domKey, "rdap/" + domKey} {
			if results[k] != 1 {
				t.Errorf("%s (%s): %d results", k, enrichIP(i), results[k])
			}
		}
	}
	total, maxPer := fake.calls()
	t.Logf("reputation API called %d times for %d addresses (at most %d for one: a call in flight at the kill is repeated, its result was never recorded)", total, n, maxPer)
}
