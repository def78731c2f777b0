package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/internal/graphstore"
	"github.com/heimdallhub/heimdall/internal/loadgen"
	"github.com/heimdallhub/heimdall/internal/observable"
	"github.com/heimdallhub/heimdall/projections/graph"
)

// BenchmarkQueryLatency measures the read API on a graph of a million
// vertices (HEIMDALL_BENCH_VERTICES sets the size):
//
//  1. it builds the graph in a fresh database by feeding generated events
//     straight to a projector (graph.New on graphstore, batches of 5000
//     records on two partitions at once), without Kafka or HTTP ingest:
//     60% IPv4 addresses, each CONNECTED_TO one to three older ones; 40%
//     domain names (random names from syllables and words, plus typosquats
//     of twenty brands), each RESOLVES_TO one to three addresses, a fifth
//     of them on shared-hosting addresses that carry ~120 domains each;
//     about 5% of the vertices are SECRET, the rest UNCLASSIFIED. Depth-2
//     neighbourhoods have ~20 vertices at the median and a few hundred on
//     shared hosting. The look-alike (HNSW) index is dropped for the load
//     and built in one go (see deferLookalikeIndex). It reports the build
//     time and rate, then vacuums and analyses the database, as autovacuum
//     would have long since done on a live one;
//  2. it starts `heimdall serve` with only the api component on that
//     database and drives each read route with the closed-loop load
//     generator (internal/loadgen), HEIMDALL_BENCH_CONCURRENCY requests in
//     flight (default 4) for HEIMDALL_BENCH_QUERY_DURATION (default 20s)
//     after a 3s warm-up, each request for a random existing vertex (entity,
//     neighbours at depth 2, limit 500) or domain (similar, limit 20):
//     p50 and p99 in ms and req/s per route.
//
// At the default size it takes about ten minutes on two cores, most of it
// building the graph. Run it with -benchtime=1x (make bench).
func BenchmarkQueryLatency(b *testing.B) {
	n := benchEnvInt(b, "HEIMDALL_BENCH_VERTICES", 1_000_000)
	conc := benchEnvInt(b, "HEIMDALL_BENCH_CONCURRENCY", 4)
	dur := 20 * time.Second
	if s := os.Getenv("HEIMDALL_BENCH_QUERY_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			b.Fatalf("HEIMDALL_BENCH_QUERY_DURATION: %v", err)
		}
		dur = d
	}
	for range b.N {
		ctx := context.Background()
		in := newInstance(b)
		g := newLatencyGraph(n, 1)
		s := in.store()
		start := time.Now()
		reindex := deferLookalikeIndex(b, s)
		// The look-alike index is built while the CONNECTED_TO edges are
		// projected: the build keeps one backend, one core, busy for
		// minutes, and the projector makes use of the other.
		indexed := make(chan error, 1)
		var indexTime time.Duration
		st := g.project(b, s, func() {
			go func() {
				t0 := time.Now()
				err := reindex()
				indexTime = time.Since(t0)
				indexed <- err
			}()
		})
		projected := time.Since(start)
		if err := <-indexed; err != nil {
			b.Fatalf("building the look-alike index: %v", err)
		}
		build := time.Since(start)
		v, e, err := s.Counts(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if want := int64(len(g.ipKeys) + len(g.domKeys)); v != want {
			b.Fatalf("%d vertices in the graph, want %d", v, want)
		}
		start = time.Now()
		if _, err := s.Pool().Exec(ctx, "VACUUM (ANALYZE)"); err != nil {
			b.Fatalf("vacuum: %v", err)
		}
		b.Logf("graph of %d IPv4 addresses and %d domains (%d typosquats of %d brands) built in %s: %d vertices + %d edges, %.0f elements/s",
			len(g.ipKeys), len(g.domKeys), g.typosquats, len(latencySeeds), build.Round(time.Second), v, e, float64(v+e)/build.Seconds())
		b.Logf("  %d events projected in %s (%.0f/s; %s %s, %s %s, %s %s), look-alike index built in %s meanwhile, VACUUM (ANALYZE) %s",
			st.events, projected.Round(time.Second), float64(st.events)/projected.Seconds(),
			latencyPhases[0], st.phases[0].Round(time.Second), latencyPhases[1], st.phases[1].Round(time.Second),
			latencyPhases[2], st.phases[2].Round(time.Second), indexTime.Round(time.Second), time.Since(start).Round(time.Second))
		b.ReportMetric(build.Seconds(), "build_s")
		b.ReportMetric(float64(v+e)/build.Seconds(), "build_elements/s")
		b.ReportMetric(float64(v), "vertices")
		b.ReportMetric(float64(e), "edges")

		in.serve("api", map[string]string{"HEIMDALL_COMPONENTS": "api"})
		g.sanity(b, in)

		client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{
			TLSClientConfig: in.st.TLSConfig(), MaxIdleConns: 2 * conc, MaxIdleConnsPerHost: 2 * conc}}
		base := "https://" + in.addr
		all := len(g.ipKeys) + len(g.domKeys)
		routes := []struct {
			name string
			url  func(i int) string
		}{
			{"entity", func(i int) string { return base + "/v1/entities/" + g.key(pick(1, i, all)) }},
			{"neighbours_depth2", func(i int) string {
				return base + "/v1/entities/" + g.key(pick(2, i, all)) + "/neighbours?depth=2&limit=500"
			}},
			{"similar", func(i int) string {
				return base + "/v1/similar?domain=" + url.QueryEscape(g.domains[pick(3, i, len(g.domains))]) + "&limit=20"
			}},
		}
		for _, r := range routes {
			// Warm-up: connections, the server's caches, the hot pages;
			// on keys the measured run does not use.
			warm, err := loadgen.Run(ctx, loadgen.Config{Client: client, Token: in.token, Concurrency: conc,
				Duration: 3 * time.Second, Next: func(i int) string { return r.url(-1 - i) }})
			if err != nil || warm.Errors > 0 || warm.Non2xx > 0 {
				b.Fatalf("%s warm-up: %v %s (%v)\n%s", r.name, err, warm, warm.FirstError, in.logs("api"))
			}
			res, err := loadgen.Run(ctx, loadgen.Config{Client: client, Token: in.token, Concurrency: conc,
				Duration: dur, Next: r.url})
			if err != nil || res.Errors > 0 || res.Non2xx > 0 {
				b.Fatalf("%s: %v %s (%v)\n%s", r.name, err, res, res.FirstError, in.logs("api"))
			}
			b.Logf("%s, concurrency %d: %s", r.name, conc, res)
			b.ReportMetric(float64(res.P50.Microseconds())/1000, r.name+"_p50_ms")
			b.ReportMetric(float64(res.P99.Microseconds())/1000, r.name+"_p99_ms")
			b.ReportMetric(res.Throughput, r.name+"_req/s")
		}
		client.CloseIdleConnections()
		in.stopAll()
	}
}

func benchEnvInt(b *testing.B, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return n
}

// pick maps request i of stream to an index below n: a fixed pseudo-random
// sequence (splitmix64), safe to call from many goroutines.
func pick(stream uint64, i, n int) int {
	z := uint64(int64(i)) + stream*0xd1b54a32d192ed03 + 0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	z ^= z >> 31
	return int(z % uint64(n))
}

// latencyGraph is the generated graph: canonical values and keys of its
// vertices (the edges are drawn as the events are generated). The first
// hosting IPs are shared-hosting addresses.
type latencyGraph struct {
	rng        *rand.Rand
	ips        []string
	ipKeys     []string
	domains    []string
	domKeys    []string
	hosting    int
	typosquats int
}

func (g *latencyGraph) key(i int) string {
	if i < len(g.ipKeys) {
		return g.ipKeys[i]
	}
	return g.domKeys[i-len(g.ipKeys)]
}

// latencySeeds are the brands the typosquats imitate.
var latencySeeds = []string{
	"google.com", "paypal.com", "microsoft.com", "apple.com", "amazon.com", "facebook.com", "netflix.com",
	"instagram.com", "linkedin.com", "twitter.com", "dropbox.com", "github.com", "outlook.com", "office365.com",
	"chase.com", "wellsfargo.com", "bankofamerica.com", "coinbase.com", "binance.com", "adobe.com",
}

var (
	latencySyllables = strings.Fields(`al an ar as ba be bi bo bu ca ce co cu da de di do du el en er es
		fa fe fi fo ga ge gi go ha he hi ho in ka ke ki ko la le li lo lu ma me mi mo mu na ne ni no nu or
		pa pe pi po pu qua ra re ri ro ru sa se si so su ta te ti to tu va ve vi vo xa ya yo za ze zo
		tron max flex star nova byte link zen`)
	latencyWords = strings.Fields(`cloud secure login shop news media data tech online web mail app portal
		service global digital market store labs group net hub pay bank home travel health sport games
		energy solutions systems consulting design studio photo music video food auto invest crypto`)
	latencyTLDs = strings.Fields(`com com com com com com com com net net net org org io de de co uk
		info xyz ru ru top online biz app fr nl eu it es pl br in cn jp site shop club`)
	latencySubdomains = strings.Fields(`www mail api cdn static m login portal shop blog app secure vpn`)
)

// newLatencyGraph generates n vertices (at least 1000), reproducibly from seed.
func newLatencyGraph(n int, seed uint64) *latencyGraph {
	n = max(n, 1000)
	g := &latencyGraph{rng: rand.New(rand.NewPCG(seed, seed^0x5eed))}
	nIP := n * 6 / 10
	nDom := n - nIP
	g.hosting = max(nIP/600, 10)

	seenIP := make(map[uint32]bool, nIP)
	g.ips, g.ipKeys = make([]string, 0, nIP), make([]string, 0, nIP)
	for len(g.ips) < nIP {
		a := g.rng.Uint32()
		o := a >> 24
		if o == 0 || o == 10 || o == 127 || o >= 224 || o == 100 && a>>22&3 == 1 ||
			a>>16 == 169<<8|254 || a>>20 == 172<<4|1 || a>>16 == 192<<8|168 || seenIP[a] {
			continue
		}
		seenIP[a] = true
		ob, err := observable.ParseIP(fmt.Sprintf("%d.%d.%d.%d", a>>24, a>>16&255, a>>8&255, a&255))
		if err != nil {
			panic(err)
		}
		g.ips, g.ipKeys = append(g.ips, ob.Value), append(g.ipKeys, ob.Key())
	}

	seenDom := make(map[string]bool, nDom)
	g.domains, g.domKeys = make([]string, 0, nDom), make([]string, 0, nDom)
	add := func(raw string) bool {
		if len(g.domains) >= nDom {
			return false
		}
		ob, err := observable.Canonicalize(observable.KindDomainName, raw)
		if err != nil || seenDom[ob.Value] {
			return false
		}
		seenDom[ob.Value] = true
		g.domains, g.domKeys = append(g.domains, ob.Value), append(g.domKeys, ob.Key())
		return true
	}
	for _, s := range latencySeeds {
		add(s)
		for _, t := range typosquatsOf(s) {
			if add(t) {
				g.typosquats++
			}
		}
	}
	for len(g.domains) < nDom {
		add(g.randomDomain())
	}
	// Interleave the brands and their look-alikes with the rest, so that
	// they do not all sit in the first batches.
	g.rng.Shuffle(len(g.domains), func(i, j int) {
		g.domains[i], g.domains[j] = g.domains[j], g.domains[i]
		g.domKeys[i], g.domKeys[j] = g.domKeys[j], g.domKeys[i]
	})
	return g
}

func (g *latencyGraph) from(list []string) string { return list[g.rng.IntN(len(list))] }

func (g *latencyGraph) syllables(lo, hi int) string {
	var b strings.Builder
	for range lo + g.rng.IntN(hi-lo+1) {
		b.WriteString(g.from(latencySyllables))
	}
	return b.String()
}

// randomDomain is a plausible registered name, sometimes with a host label.
func (g *latencyGraph) randomDomain() string {
	var name string
	switch r := g.rng.IntN(10); {
	case r < 4:
		name = g.syllables(2, 4)
	case r < 6:
		name = g.syllables(2, 3) + "-" + g.from(latencyWords)
	case r < 8:
		name = g.from(latencyWords) + g.syllables(1, 3)
	case r < 9:
		name = g.from(latencyWords) + g.from(latencyWords) + strconv.Itoa(g.rng.IntN(100))
	default:
		name = g.syllables(1, 2) + g.from(latencyWords) + "-" + g.from(latencyWords)
	}
	name += "." + g.from(latencyTLDs)
	if g.rng.IntN(4) == 0 {
		name = g.from(latencySubdomains) + "." + name
	}
	return name
}

// typosquatsOf returns look-alikes of a brand domain: omitted, doubled and
// swapped letters, homoglyphs, other TLDs and phishing-style compounds.
func typosquatsOf(brand string) []string {
	name, tld, _ := strings.Cut(brand, ".")
	var out []string
	for i := range len(name) {
		out = append(out, name[:i]+name[i+1:]+"."+tld)               // omission
		out = append(out, name[:i+1]+name[i:i+1]+name[i+1:]+"."+tld) // doubling
		if i+1 < len(name) && name[i] != name[i+1] {                 // swap
			out = append(out, name[:i]+name[i+1:i+2]+name[i:i+1]+name[i+2:]+"."+tld)
		}
	}
	for from, to := range map[string]string{"o": "0", "l": "1", "i": "l", "m": "rn", "e": "3", "a": "4", "s": "5", "w": "vv"} {
		if strings.Contains(name, from) {
			out = append(out, strings.Replace(name, from, to, 1)+"."+tld)
		}
	}
	for _, t := range []string{"net", "org", "co", "info", "xyz", "online"} {
		out = append(out, name+"."+t)
	}
	for _, w := range []string{"login", "secure", "support", "verify", "account"} {
		out = append(out, name+"-"+w+"."+tld, w+"-"+name+"."+tld, brand+"-"+w+".info")
	}
	slices.Sort(out)
	out = slices.Compact(out)
	// A stable, spread-out selection of fifteen to twenty per brand.
	var pickd []string
	for i, s := range out {
		if i%max(len(out)/15, 1) == 0 && s != brand {
			pickd = append(pickd, s)
		}
	}
	return pickd
}

// latencyTopic is the topic name the generated log records claim.
const latencyTopic = "heimdall.bench.events"

// eventStream builds the envelopes of the generated events.
type eventStream struct {
	rng *rand.Rand
	n   int
	at  time.Time
}

func (es *eventStream) envelope(key, source, batch string) events.Event {
	es.n++
	at := es.at.Add(time.Duration(es.n) * time.Millisecond)
	cls := "UNCLASSIFIED"
	if es.rng.IntN(20) == 0 {
		cls = "SECRET"
	}
	hlc := events.MakeHLC(at.UnixMilli(), 0)
	return events.Event{
		ID:  events.DeterministicID(at, batch, key, strconv.Itoa(es.n)),
		Key: key, OriginPeer: "bench",
		Vector:         events.VersionVector{"bench": int64(hlc)},
		HLC:            hlc,
		Actor:          events.Actor{Subject: "heimdall-cli", Issuer: "https://localhost:58443"},
		RequestID:      "req-" + batch,
		BatchID:        batch,
		RecordedAt:     at,
		Provenance:     events.Provenance{Source: source, Format: "ndjson", File: source + ".ndjson", Line: int64(es.n), ByteOffset: -1},
		Classification: cls,
		PolicyVersion:  "1",
	}
}

func (es *eventStream) entity(kind, key, value, source, batch string, attrs ...events.Attribute) events.Event {
	e := es.envelope(key, source, batch)
	e.Type = events.TypeEntityObserved
	if attrs == nil {
		attrs = []events.Attribute{}
	}
	e.Payload = events.EntityObserved{Kind: kind, Value: value, ObservedAt: e.RecordedAt, Attributes: attrs}
	return e
}

func (es *eventStream) relation(typ string, src, dst events.Endpoint, source, batch string) events.Event {
	e := es.envelope(observable.RelationKey(src.Key, typ, dst.Key), source, batch)
	if e.Classification == "SECRET" && es.rng.IntN(2) == 0 {
		e.Classification = "UNCLASSIFIED" // fewer secret edges than vertices
	}
	e.Type = events.TypeRelationObserved
	e.Payload = events.RelationObserved{RelationType: typ, Source: src, Target: dst, ObservedAt: e.RecordedAt,
		Attributes: []events.Attribute{}}
	return e
}

// events calls emit with every event of the graph, in batches of about
// batchSize for each of streams partitions, in three phases (see
// latencyPhases): the IPs; each domain with its RESOLVES_TO edges to one to
// three IPs (a fifth of them to shared-hosting addresses); each IP's
// CONNECTED_TO edges to one to three older IPs. Every edge points to a
// vertex of an earlier phase or the same batch, so no vertex is written
// twice. At the end of a phase it emits what is left and calls phase with
// its number.
//
// Vertex i goes to partition i mod streams, and 99% of the edges stay within
// a partition's vertices: the projector locks the state rows of every
// endpoint a batch touches until it commits, so batches of different
// partitions that share endpoints run one after the other, and two streams
// over one tightly knit graph build it no faster than one. The 1% of edges
// across keep the graph connected (and cost an occasional wait).
func (g *latencyGraph) events(batchSize, streams int, emit func(part int, batch []events.Event), phase func(int)) {
	es := &eventStream{rng: g.rng, at: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)}
	batches := make([][]events.Event, streams)
	numbers := make([]int, streams)
	bid := func(p int) string { return "bench-" + strconv.Itoa(p) + "-" + strconv.Itoa(numbers[p]) }
	flush := func(p int, force bool) {
		if len(batches[p]) >= batchSize || force && len(batches[p]) > 0 {
			emit(p, batches[p])
			batches[p] = nil
			numbers[p]++
		}
	}
	ip := func(i int) events.Endpoint {
		return events.Endpoint{Key: g.ipKeys[i], Kind: string(observable.KindIPv4Addr), Value: g.ips[i]}
	}
	// within draws an index below n of partition p's vertices, and
	// rarely (1%) any index below across.
	within := func(p, n, across int) int {
		if across > 0 && g.rng.IntN(100) == 0 {
			return g.rng.IntN(across)
		}
		return p + streams*g.rng.IntN((n-p+streams-1)/streams)
	}
	fanout := func() int { // 1, 2 or 3: 1.5 on average
		switch r := g.rng.IntN(10); {
		case r < 6:
			return 1
		case r < 9:
			return 2
		}
		return 3
	}
	var targets []int
	distinct := func(k int, draw func() int) []int {
		targets = targets[:0]
		for tries := 0; len(targets) < k && tries < 10*k; tries++ {
			if t := draw(); !slices.Contains(targets, t) {
				targets = append(targets, t)
			}
		}
		return targets
	}
	endPhase := func(n int) {
		for p := range streams {
			flush(p, true)
		}
		phase(n)
	}
	for i := range g.ips {
		p := i % streams
		asn := 1000 + pick(7, i/64, 60000) // neighbouring addresses share an AS
		batches[p] = append(batches[p], es.entity(string(observable.KindIPv4Addr), g.ipKeys[i], g.ips[i], "bench-netflow", bid(p),
			events.Attribute{Name: "asn", Value: strconv.Itoa(asn)}))
		flush(p, false)
	}
	endPhase(0)
	for d := range g.domains {
		p := d % streams
		dom := events.Endpoint{Key: g.domKeys[d], Kind: string(observable.KindDomainName), Value: g.domains[d]}
		batches[p] = append(batches[p], es.entity(dom.Kind, dom.Key, dom.Value, "bench-passive-dns", bid(p)))
		for _, j := range distinct(fanout(), func() int {
			if g.rng.IntN(5) == 0 {
				return within(p, g.hosting, 0)
			}
			return within(p, len(g.ips), len(g.ips))
		}) {
			batches[p] = append(batches[p], es.relation("RESOLVES_TO", dom, ip(j), "bench-passive-dns", bid(p)))
		}
		flush(p, false)
	}
	endPhase(1)
	for i := range g.ips {
		p := i % streams
		if older := i / streams; older > 0 { // older IPs of partition p
			k := fanout() + g.rng.IntN(2) // 2 on average
			for _, j := range distinct(min(k, older), func() int { return within(p, i, i/2) }) {
				batches[p] = append(batches[p], es.relation("CONNECTED_TO", ip(i), ip(j), "bench-netflow", bid(p)))
			}
		}
		flush(p, false)
	}
	endPhase(2)
}

// latencyPhases name the phases of the build.
var latencyPhases = [3]string{"IPs", "domains and RESOLVES_TO", "CONNECTED_TO"}

// buildStats says how the build went.
type buildStats struct {
	events int
	phases [len(latencyPhases)]time.Duration
}

// project feeds the graph's events to a projector on s: one goroutine
// generates and encodes batches, HEIMDALL_BENCH_BUILD_STREAMS (default 2)
// apply them, each on its own partition (as consumers of the events topic
// would). Once the domains are projected it calls afterDomains, and goes on.
func (g *latencyGraph) project(b *testing.B, s graph.Store, afterDomains func()) buildStats {
	const batchSize = 5000
	streams := min(benchEnvInt(b, "HEIMDALL_BENCH_BUILD_STREAMS", 2), 8)
	ctx := context.Background()
	codec, err := events.NewCodec()
	if err != nil {
		b.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(b.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	p, err := graph.New(s, codec, logger)
	if err != nil {
		b.Fatal(err)
	}
	// A work item is a batch, or a barrier the worker passes once the
	// batches before it are applied.
	type work struct {
		recs    []events.LogRecord
		barrier *sync.WaitGroup
	}
	queues := make([]chan work, streams)
	errs := make(chan error, streams)
	for st := range queues {
		queues[st] = make(chan work, 1)
		go func() {
			var err error
			for w := range queues[st] {
				switch {
				case w.barrier != nil:
					w.barrier.Done()
				case err == nil:
					err = p.Handle(ctx, w.recs)
				}
			}
			errs <- err
		}()
	}
	offsets := make([]int64, streams)
	var st buildStats
	phaseStart := time.Now()
	g.events(batchSize, streams, func(part int, es []events.Event) {
		recs := make([]events.LogRecord, len(es))
		for i, e := range es {
			v, err := codec.Encode(e)
			if err != nil {
				b.Fatal(err)
			}
			recs[i] = events.LogRecord{Topic: latencyTopic, Partition: int32(part), Offset: offsets[part],
				Key: []byte(e.Key), Value: v, Timestamp: e.RecordedAt}
			offsets[part]++
		}
		queues[part] <- work{recs: recs}
		st.events += len(es)
	}, func(n int) {
		var barrier sync.WaitGroup
		barrier.Add(streams)
		for _, q := range queues {
			q <- work{barrier: &barrier}
		}
		barrier.Wait()
		st.phases[n] = time.Since(phaseStart)
		phaseStart = time.Now()
		if n == 1 && afterDomains != nil {
			afterDomains()
		}
	})
	for _, q := range queues {
		close(q)
	}
	for range streams {
		if err := <-errs; err != nil {
			b.Fatalf("projecting: %v", err)
		}
	}
	if ps := p.Stats(); ps.Invalid+ps.Undecodable+ps.InvalidEdgeLabels > 0 {
		b.Fatalf("the projector skipped records: %+v", ps)
	}
	return st
}

// deferLookalikeIndex drops the look-alike (HNSW) index of the active
// generation and returns a function that creates it again, with the same
// definition, in one bulk build: inserting vectors one at a time into HNSW
// is the slowest part of projecting a domain (about 600 domains/s on two
// cores), and a bulk build is what one would do to load this many. The
// index the API reads is the same either way.
func deferLookalikeIndex(b *testing.B, s *graphstore.Store) func() error {
	ctx := context.Background()
	graphName, err := s.ActiveGraph(ctx)
	if err != nil {
		b.Fatal(err)
	}
	var def string
	if err := s.Pool().QueryRow(ctx, `SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND indexname = 'similarity_hnsw'`,
		graphName).Scan(&def); err != nil {
		b.Fatalf("reading the look-alike index definition: %v", err)
	}
	if _, err := s.Pool().Exec(ctx, "DROP INDEX "+pgx.Identifier{graphName, "similarity_hnsw"}.Sanitize()); err != nil {
		b.Fatal(err)
	}
	return func() error {
		conn, err := s.Pool().Acquire(ctx)
		if err != nil {
			return err
		}
		defer conn.Release()
		// The whole graph in memory makes the build fast. A parallel
		// build would keep it in dynamic shared memory, which the dev
		// stack's PostgreSQL has too little of (512 MiB) for this many
		// vectors, so the build runs in the backend alone.
		for _, q := range []string{"SET maintenance_work_mem = '2GB'", "SET max_parallel_maintenance_workers = 0", def,
			"RESET maintenance_work_mem", "RESET max_parallel_maintenance_workers"} {
			if _, err := conn.Exec(ctx, q); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}
		return nil
	}
}

// sanity checks a few answers of the API and logs the sizes of depth-2
// neighbourhoods and the look-alikes of a brand.
func (g *latencyGraph) sanity(b *testing.B, in *instance) {
	var sizes []int
	truncated := 0
	all := len(g.ipKeys) + len(g.domKeys)
	for i := range 200 {
		var nb struct {
			Vertices  []json.RawMessage `json:"vertices"`
			Edges     []json.RawMessage `json:"edges"`
			Truncated bool              `json:"truncated"`
		}
		key := g.key(pick(9, i, all))
		if code := in.get("/v1/entities/"+key+"/neighbours?depth=2&limit=500", &nb); code != http.StatusOK {
			b.Fatalf("neighbours of %s: %d\n%s", key, code, in.logs("api"))
		}
		sizes = append(sizes, len(nb.Vertices))
		if nb.Truncated {
			truncated++
		}
	}
	slices.Sort(sizes)
	sum := 0
	for _, n := range sizes {
		sum += n
	}
	b.Logf("depth-2 neighbourhoods of 200 random vertices: mean %.1f vertices, median %d, p90 %d, max %d; %d truncated at 500",
		float64(sum)/float64(len(sizes)), sizes[len(sizes)/2], sizes[len(sizes)*9/10], sizes[len(sizes)-1], truncated)
	b.ReportMetric(float64(sum)/float64(len(sizes)), "depth2_mean_vertices")

	var sim struct {
		Matches []struct {
			Value      string  `json:"value"`
			Similarity float64 `json:"similarity"`
		} `json:"matches"`
	}
	if code := in.get("/v1/similar?domain=paypal.com&limit=8", &sim); code != http.StatusOK {
		b.Fatalf("similar: %d\n%s", code, in.logs("api"))
	}
	var names []string
	for _, m := range sim.Matches {
		names = append(names, fmt.Sprintf("%s (%.2f)", m.Value, m.Similarity))
	}
	b.Logf("look-alikes of paypal.com: %s", strings.Join(names, ", "))
}
