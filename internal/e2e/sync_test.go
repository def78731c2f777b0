package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/internal/config/devstack"
	"github.com/heimdallhub/heimdall/internal/graphstore"
	"github.com/heimdallhub/heimdall/internal/kafka"
	"github.com/heimdallhub/heimdall/internal/observable"
	"github.com/heimdallhub/heimdall/internal/syncstore"
	"github.com/heimdallhub/heimdall/sync/exchange"
)

// site is one peer of a sync test: an instance, its peer id, the OIDC
// client it pulls as, and its graph store.
type site struct {
	*instance
	id      string
	client  string
	subject string // the subject of client's tokens: how the others know s
	store   *graphstore.Store
}

// peerLink is how one site reaches another: the URL it pulls from (a TCP
// proxy the test can cut) and what the exporter lets it receive.
type peerLink struct {
	url string
}

// newSites prepares n instances that share the federation's
// pseudonymisation key (so pseudonyms join) and nothing else.
func newSites(t testing.TB, n int) []*site {
	t.Helper()
	clients := []string{devstack.ClientPeer, devstack.ClientPeer2, devstack.ClientPeer3}
	pseudo := "pk1=" + randomKey(t)
	run := randomSuffix()
	var out []*site
	for i := range n {
		in := newInstance(t)
		s := &site{instance: in, id: fmt.Sprintf("site-%c-%s", 'a'+i, run), client: clients[i], subject: in.st.SubjectOf(t, clients[i])}
		in.env["HEIMDALL_PEER_ID"] = s.id
		in.env["HEIMDALL_PSEUDONYM_KEYS"] = pseudo
		in.env["HEIMDALL_SYNC_CLIENT_ID"] = s.client
		in.env["HEIMDALL_SYNC_CLIENT_SECRET"] = in.st.ClientSecret(t, s.client)
		in.env["HEIMDALL_SYNC_WAIT"] = "2s"
		in.env["HEIMDALL_SYNC_MAX_BACKOFF"] = "2s"
		in.env["HEIMDALL_SYNC_MAX_RECORDS"] = "2000"
		out = append(out, s)
	}
	return out
}

// configure writes s's peers file: for each other site, the link s pulls
// through and the agreement s applies when that site pulls from s.
func (s *site) configure(t testing.TB, others []*site, links map[string]peerLink, exportLevel map[string]string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("peers:\n")
	for _, o := range others {
		if o == s {
			continue
		}
		level := exportLevel[o.id]
		if level == "" {
			level = "TOP SECRET"
		}
		fmt.Fprintf(&b, "  - id: %s\n    url: %s\n    subject: %s\n    export: {max_classification: %s}\n", o.id, links[o.id].url, o.subject, level)
	}
	path := filepath.Join(t.TempDir(), "peers.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	s.env["HEIMDALL_SYNC_PEERS"] = path
}

// tcpProxy forwards connections to a target until cut; cutting closes every
// open connection and refuses new ones until healed.
type tcpProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  map[net.Conn]bool
}

func newTCPProxy(t testing.TB, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { ln.Close(); p.setCut(true) })
	go p.serve()
	return p
}

func (p *tcpProxy) url() string {
	_, port, _ := net.SplitHostPort(p.ln.Addr().String())
	return "https://localhost:" + port
}

func (p *tcpProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c] = true
		p.mu.Unlock()
		go p.pipe(c)
	}
}

func (p *tcpProxy) pipe(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[up] = true
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
	<-done
	c.Close()
	up.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}

func (p *tcpProxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for c := range p.conns {
			c.Close()
		}
		p.conns = map[net.Conn]bool{}
	}
}

// logEvent is one record of a site's event log.
type logEvent struct {
	id     string
	origin string
	via    string
	class  string
	key    string
	hlc    events.HLC
}

// readLog reads a site's whole events topic.
func (s *site) readLog(t testing.TB) []logEvent {
	t.Helper()
	kc := s.st.Kafka(s.t, devstack.KafkaAdmin)
	codec, err := events.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	var out []logEvent
	h := handlerFunc(func(ctx context.Context, recs []events.LogRecord) error {
		for _, r := range recs {
			e, err := codec.Decode(r.Value)
			if err != nil {
				return err
			}
			out = append(out, logEvent{id: e.ID.String(), origin: e.OriginPeer, via: r.Headers[exchange.HeaderVia], class: e.Classification, key: e.Key, hlc: e.HLC})
		}
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := kafka.ReadRange(ctx, kc, s.eventsT, 5000, h, nil); err != nil {
		t.Fatal(err)
	}
	return out
}

// handlerFunc is a kafka.Handler reading from the start.
type handlerFunc func(ctx context.Context, recs []events.LogRecord) error

func (f handlerFunc) Offsets(context.Context, string, []int32) (map[int32]int64, error) {
	return map[int32]int64{}, nil
}
func (f handlerFunc) Handle(ctx context.Context, recs []events.LogRecord) error { return f(ctx, recs) }

// randomFlows is n flow lines between addresses of a shared pool, so sites
// observe the same records (concurrent changes of them).
func randomFlows(rng *rand.Rand, n int, day int) []byte {
	var b strings.Builder
	for range n {
		src := fmt.Sprintf("10.77.%d.%d", rng.IntN(4), rng.IntN(50))
		dst := fmt.Sprintf("100.77.%d.%d", rng.IntN(4), rng.IntN(50))
		fmt.Fprintf(&b, `{"ts":"2026-11-%02dT%02d:%02d:%02dZ","src_ip":"%s","dst_ip":"%s","dst_port":%d,"proto":"tcp"}`+"\n",
			day, rng.IntN(24), rng.IntN(60), rng.IntN(60), src, dst, []int{22, 53, 80, 443, 8443}[rng.IntN(5)])
	}
	return []byte(b.String())
}

// waitConverged waits until every site has projected its whole log and all
// digests are equal; it returns the digest.
func waitConverged(t *testing.T, sites []*site, within time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(within)
	var last []string
	for time.Now().Before(deadline) {
		last = last[:0]
		for _, s := range sites {
			s.waitProjected(s.store, within)
			d, err := s.store.Digest(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			last = append(last, d)
		}
		same := true
		for _, d := range last[1:] {
			same = same && d == last[0]
		}
		if same {
			// Stable: nothing more arrives in a second round.
			time.Sleep(3 * time.Second)
			again := true
			for i, s := range sites {
				s.waitProjected(s.store, within)
				d, _ := s.store.Digest(context.Background())
				again = again && d == last[i]
			}
			if again {
				return last[0]
			}
			continue
		}
		time.Sleep(time.Second)
	}
	for _, s := range sites {
		t.Logf("--- %s logs:\n%s", s.id, s.allLogs())
	}
	t.Fatalf("sites did not converge within %v: digests %v", within, last)
	return ""
}

// TestSyncThreePeersConverge: three sites in a mesh, each its own database
// and topics, driven by the built binary with the sync agent in its own
// process: random ingests on all three (overlapping records, so concurrent
// changes of the same records), concurrent reclassifications of one record
// at two sites while one site is cut off by a TCP proxy, kill -9 of a sync
// agent mid-replication; after healing, every site's graph has the same
// digest, every log holds the same events, none twice (not even at the
// site whose agent died), and none came back to its origin.
func TestSyncThreePeersConverge(t *testing.T) {
	requireStack(t)
	sites := newSites(t, 3)
	// One proxy per direction: proxies[x][y] is how x reaches y.
	proxies := map[string]map[string]*tcpProxy{}
	for _, x := range sites {
		proxies[x.id] = map[string]*tcpProxy{}
		links := map[string]peerLink{}
		for _, y := range sites {
			if x != y {
				proxies[x.id][y.id] = newTCPProxy(t, y.addr)
				links[y.id] = peerLink{url: proxies[x.id][y.id].url()}
			}
		}
		x.configure(t, sites, links, nil)
	}
	agents := map[string]*process{}
	for _, s := range sites {
		s.serve("serve", map[string]string{"HEIMDALL_COMPONENTS": "api,ingest,projector"})
		// The agent runs alone, as the least-privilege sync principal.
		agents[s.id] = s.start("sync", s.withPrincipal(devstack.KafkaSync, nil), "sync")
		s.store = s.store0()
	}
	cut := func(victim *site, on bool) {
		for _, x := range sites {
			if x == victim {
				continue
			}
			proxies[x.id][victim.id].setCut(on)
			proxies[victim.id][x.id].setCut(on)
		}
	}
	rng := rand.New(rand.NewPCG(7, 11))
	a, b, c := sites[0], sites[1], sites[2]

	// Phase 1: everyone ingests; replication runs.
	for i, s := range sites {
		s.mustIngest(randomFlows(rng, 300, 10+i), "source="+s.id+"-sensor&file=phase1.ndjson")
	}
	// Phase 2: c is cut off; all three keep ingesting; a and c reclassify
	// the same record concurrently, b another one.
	cut(c, true)
	for i, s := range sites {
		s.mustIngest(randomFlows(rng, 300, 20+i), "source="+s.id+"-sensor&file=phase2.ndjson")
	}
	key := ipKey(t, "10.77.0.1")
	other := ipKey(t, "100.77.1.2")
	waitRecord(t, a, key)
	waitRecord(t, c, key)
	waitRecord(t, b, other)
	if code := a.patch(a.token, "/v1/records/"+key+"/classification", `{"level":"SECRET","reason":"site a review"}`); code != http.StatusAccepted {
		t.Fatalf("reclassify at a: %d", code)
	}
	if code := c.patch(c.token, "/v1/records/"+key+"/classification", `{"level":"CONFIDENTIAL","reason":"site c review"}`); code != http.StatusAccepted {
		t.Fatalf("reclassify at c: %d", code)
	}
	if code := b.patch(b.token, "/v1/records/"+other+"/classification", `{"level":"CONFIDENTIAL"}`); code != http.StatusAccepted {
		t.Fatalf("reclassify at b: %d", code)
	}
	// Phase 3: kill -9 b's sync agent while a's big batch replicates, then
	// restart it.
	a.mustIngest(randomFlows(rng, 2000, 27), "source="+a.id+"-sensor&file=phase3.ndjson")
	time.Sleep(300 * time.Millisecond)
	agents[b.id].kill9(t)
	c.mustIngest(randomFlows(rng, 300, 28), "source="+c.id+"-sensor&file=phase3.ndjson")
	agents[b.id] = b.start("sync-restarted", b.withPrincipal(devstack.KafkaSync, nil), "sync")
	time.Sleep(2 * time.Second)
	// Heal.
	cut(c, false)

	digest := waitConverged(t, sites, 3*time.Minute)
	t.Logf("converged: digest %s", digest)

	// The logs: the same set of events everywhere; nothing came back to its
	// origin; duplicates only from the at-least-once window (reported).
	var sets []map[string]int
	for _, s := range sites {
		evs := s.readLog(t)
		set := map[string]int{}
		for _, e := range evs {
			set[e.id]++
			if e.origin == s.id && e.via != "" {
				t.Errorf("%s: event %s of its own origin came back (via %s)", s.id, e.id, e.via)
			}
			if e.origin != s.id && e.via == "" {
				t.Errorf("%s: event %s of origin %s has no via path", s.id, e.id, e.origin)
			}
		}
		dups := 0
		for _, n := range set {
			if n > 1 {
				dups++
			}
		}
		// Not even b, whose agent died mid-replication: its successor
		// resolved the dead agent's pending batch from the log.
		if dups > 0 {
			t.Errorf("%s: %d events appended more than once", s.id, dups)
		}
		t.Logf("%s: %d records, %d distinct events, %d appended twice", s.id, len(evs), len(set), dups)
		sets = append(sets, set)
	}
	for i := 1; i < len(sets); i++ {
		for id := range sets[0] {
			if sets[i][id] == 0 {
				t.Fatalf("%s lacks event %s", sites[i].id, id)
			}
		}
		if len(sets[i]) != len(sets[0]) {
			t.Fatalf("%s holds %d events, %s %d", sites[i].id, len(sets[i]), sites[0].id, len(sets[0]))
		}
	}
	// The concurrent reclassification resolved the same way everywhere
	// (the digest covers it); say how.
	var v struct {
		Classification string `json:"classification"`
	}
	a.get("/v1/entities/"+key, &v)
	t.Logf("record reclassified concurrently at a (SECRET) and c (CONFIDENTIAL): %s everywhere", v.Classification)

	// sync status shows every peer with a contact and no lag.
	out, err := a.run(nil, "sync", "status")
	if err != nil {
		t.Fatalf("sync status: %v\n%s", err, out)
	}
	for _, o := range []*site{b, c} {
		if !strings.Contains(out, o.id) {
			t.Fatalf("sync status lacks %s:\n%s", o.id, out)
		}
	}
	t.Logf("sync status at a:\n%s", out)
	// Every site recorded the same conflicts: every concurrent pair of
	// changes, whatever order its events arrived in.
	sameConflicts(t, sites)
}

// sameConflicts checks that every site recorded as many reclassification
// conflicts (sync status's total), and at least one.
func sameConflicts(t *testing.T, sites []*site) {
	t.Helper()
	var counts []string
	for _, s := range sites {
		out, err := s.run(nil, "sync", "status")
		if err != nil {
			t.Fatalf("%s: sync status: %v\n%s", s.id, err, out)
		}
		_, rest, ok := strings.Cut(out, "reclassification conflicts recorded: ")
		n, _, _ := strings.Cut(rest, " ")
		if !ok || n == "" {
			t.Fatalf("%s: sync status without the conflicts total:\n%s", s.id, out)
		}
		counts = append(counts, n)
	}
	for i := range counts {
		if counts[i] != counts[0] || counts[i] == "0" {
			t.Fatalf("conflicts recorded per site: %v, want one equal count above 0", counts)
		}
	}
	t.Logf("each site recorded %s reclassification conflicts", counts[0])
}

// store0 opens the site's graph store.
func (s *site) store0() *graphstore.Store { return s.instance.store() }

// ipKey is the record key of an IP address.
func ipKey(t *testing.T, ip string) string {
	t.Helper()
	k, err := observable.ParseIP(ip)
	if err != nil {
		t.Fatal(err)
	}
	return k.Key()
}

// waitRecord waits until the site's graph holds key.
func waitRecord(t *testing.T, s *site, key string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if s.get("/v1/entities/"+key, nil) == http.StatusOK {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: record %s not projected", s.id, key)
}

// TestSyncAgreementExcludesClassification: a site whose agreement stops at
// CONFIDENTIAL never receives the SECRET events of a personal-data ingest,
// not even their keys, while everything else arrives.
func TestSyncAgreementExcludesClassification(t *testing.T) {
	requireStack(t)
	sites := newSites(t, 2)
	a, c := sites[0], sites[1]
	a.configure(t, sites, map[string]peerLink{c.id: {url: "https://" + c.addr}}, map[string]string{c.id: "CONFIDENTIAL"})
	c.configure(t, sites, map[string]peerLink{a.id: {url: "https://" + a.addr}}, nil)
	serves := map[string]*process{}
	for _, s := range sites {
		serves[s.id] = s.serve("serve", map[string]string{"HEIMDALL_COMPONENTS": "api,ingest,projector,sync"})
		s.store = s.store0()
	}
	a.mustIngest(flowLines(0, 100), "source=flows&file=flows.ndjson")
	var body strings.Builder
	secretKeys := map[string]bool{}
	for i := range 40 {
		addr := fmt.Sprintf("person%d@agreement.example", i)
		fmt.Fprintf(&body, `{"ts":"2026-11-20T10:%02d:00Z","src_ip":"192.0.2.%d","dst_ip":"198.51.100.%d","dst_port":25,"proto":"tcp","email":"%s"}`+"\n", i, 1+i, 1+i, addr)
	}
	a.mustIngest([]byte(body.String()), "source=mail&file=mail.ndjson")
	a.waitProjected(a.store, 2*time.Minute)
	// Two reclassifications at a: of a record c may see, raised to SECRET
	// (the change crosses and c hides the record), and of a SECRET-only
	// record, lowered (the change names the record, so it stays at a).
	levels := map[string]map[string]bool{}
	pre := a.readLog(t)
	for _, e := range pre {
		if levels[e.key] == nil {
			levels[e.key] = map[string]bool{}
		}
		levels[e.key][e.class] = true
	}
	var visible, hidden string
	for _, e := range pre {
		l := levels[e.key]
		switch {
		case visible == "" && len(l) == 1 && l["UNCLASSIFIED"] && a.get("/v1/entities/"+e.key, nil) == http.StatusOK:
			visible = e.key
		case hidden == "" && !l["UNCLASSIFIED"] && !l["CONFIDENTIAL"] && a.get("/v1/entities/"+e.key, nil) == http.StatusOK:
			hidden = e.key
		}
	}
	if visible == "" || hidden == "" {
		t.Fatalf("no entity to reclassify: visible %q, SECRET-only %q", visible, hidden)
	}
	for k, level := range map[string]string{visible: "SECRET", hidden: "CONFIDENTIAL"} {
		if code := a.patch(a.token, "/v1/records/"+k+"/classification", `{"level":"`+level+`","reason":"agreement test"}`); code != http.StatusAccepted {
			t.Fatalf("reclassify %s at a: %d", k, code)
		}
	}
	a.waitProjected(a.store, time.Minute)
	aLog := a.readLog(t)
	secret := 0
	for _, e := range aLog {
		if e.class == "SECRET" || e.class == "TOP SECRET" {
			secret++
			secretKeys[e.key] = true
		}
	}
	if secret == 0 {
		t.Fatal("the mail ingest wrote no SECRET event: the test proves nothing")
	}
	// Wait until c has everything a may send it.
	deadline := time.Now().Add(2 * time.Minute)
	var cLog []logEvent
	for {
		cLog = c.readLog(t)
		if len(cLog) >= len(aLog)-secret || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	if len(cLog) != len(aLog)-secret {
		t.Fatalf("c holds %d events, want %d (%d of a's %d are SECRET or above)", len(cLog), len(aLog)-secret, secret, len(aLog))
	}
	for _, e := range cLog {
		if e.class != "UNCLASSIFIED" && e.class != "CONFIDENTIAL" {
			t.Errorf("c received a %s event %s", e.class, e.id)
		}
		if secretKeys[e.key] {
			// A key of a SECRET event may also be the key of an allowed
			// event (an address seen in both); only keys seen nowhere
			// else must be absent.
			continue
		}
	}
	// Keys that occur only in SECRET events at a never reach c's graph.
	allowedKeys := map[string]bool{}
	for _, e := range aLog {
		if e.class != "SECRET" && e.class != "TOP SECRET" {
			allowedKeys[e.key] = true
		}
	}
	c.waitProjected(c.store, time.Minute)
	checked := 0
	for k := range secretKeys {
		if allowedKeys[k] {
			continue
		}
		checked++
		for _, e := range cLog {
			if e.key == k {
				t.Fatalf("c's log holds key %s of a SECRET-only record", k)
			}
		}
		if code := c.get("/v1/entities/"+k, nil); code != http.StatusNotFound {
			t.Fatalf("c's graph answers %d for the SECRET-only record %s", code, k)
		}
	}
	if checked == 0 || !secretKeys[hidden] || allowedKeys[hidden] {
		t.Fatalf("no SECRET-only key to check (%d), or the change of %s was not withheld", checked, hidden)
	}
	var v struct {
		Classification string `json:"classification"`
	}
	if code := c.get("/v1/entities/"+visible, &v); code != http.StatusOK || v.Classification != "SECRET" {
		t.Fatalf("c shows the record a raised to SECRET as %d %q", code, v.Classification)
	}
	t.Logf("a: %d events (%d SECRET or above); c received %d; %d SECRET-only keys absent at c", len(aLog), secret, len(cLog), checked)

	// The agreement widens: c's checkpoint is past the SECRET events, so
	// only anti-entropy can bring them. One round fetches exactly those.
	a.configure(t, sites, map[string]peerLink{c.id: {url: "https://" + c.addr}}, map[string]string{c.id: "TOP SECRET"})
	serves[a.id].stop(t)
	a.serve("serve-widened", map[string]string{"HEIMDALL_COMPONENTS": "api,ingest,projector,sync"})
	out, err := c.run(nil, "sync", "repair", a.id)
	if err != nil {
		t.Fatalf("sync repair: %v\n%s", err, out)
	}
	t.Log(strings.TrimSpace(out))
	if want := fmt.Sprintf("%d missing here, %d appended", secret, secret); !strings.Contains(out, want) {
		t.Fatalf("repair: want %q in %q", want, out)
	}
	if cLog = c.readLog(t); len(cLog) != len(aLog) {
		t.Fatalf("after the repair c holds %d events, a %d", len(cLog), len(aLog))
	}
	// A second round finds every range verified with the same digest: it
	// lists no id, and the graphs are now the same.
	if out, err = c.run(nil, "sync", "repair", a.id); err != nil || !strings.Contains(out, " 0 not verified before; 0 event ids listed, 0 missing here, 0 appended") {
		t.Fatalf("second repair: %v %s", err, out)
	}
	t.Log(strings.TrimSpace(out))
	waitConverged(t, sites, 2*time.Minute)
}

// TestSyncImportAdvancesClock: the HLC of an imported event advances the
// clock of the importing peer, so what it writes afterwards is ordered
// after what it received, even from a peer whose clock runs a little
// ahead; a value far ahead (agent.MaxClockAhead) does not drag it.
func TestSyncImportAdvancesClock(t *testing.T) {
	requireStack(t)
	a, c := twoPeers(t)
	sites := []*site{a, c}
	for _, s := range sites {
		s.serve("serve", map[string]string{"HEIMDALL_COMPONENTS": "api,ingest,projector,sync"})
	}
	// Two reclassifications a received from site-z, whose clock is two
	// minutes ahead, and from site-y, two hours ahead.
	codec, err := events.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	p, err := kafka.NewProducer(a.st.Kafka(a.t, devstack.KafkaAdmin), kafka.ProducerOptions{DeliveryTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	key := ipKey(t, "192.0.2.200")
	near := events.MakeHLC(time.Now().Add(2*time.Minute).UnixMilli(), 0)
	far := events.MakeHLC(time.Now().Add(2*time.Hour).UnixMilli(), 0)
	want := map[string]bool{}
	for peer, h := range map[string]events.HLC{"site-z": near, "site-y": far} {
		e := events.Event{
			ID: events.NewID(), Key: key, OriginPeer: peer, Vector: events.VersionVector{peer: int64(h)}, HLC: h,
			Actor: events.Actor{Subject: "admin", Issuer: "https://idp." + peer + ".example"}, RequestID: peer, BatchID: peer,
			RecordedAt: h.Time(), Provenance: events.Provenance{Source: "api", Format: "classify"}, Classification: "UNCLASSIFIED",
			Payload: events.ClassificationChanged{RecordType: "entity", Level: "CONFIDENTIAL", Reason: "clock test"},
		}
		v, err := codec.Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		p.Append(context.Background(), a.eventsT, []byte(key), v,
			map[string]string{"heimdall.event_type": events.TypeClassificationChanged, exchange.HeaderVia: peer},
			func(err error) { done <- err })
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		want[e.ID.String()] = true
	}
	deadline := time.Now().Add(time.Minute)
	for n := 0; n < len(want); {
		n = 0
		for _, e := range c.readLog(t) {
			if want[e.id] {
				n++
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("c imported %d of the 2 events", n)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The clock feed reads the greatest imported HLC every second.
	time.Sleep(2500 * time.Millisecond)
	c.mustIngest(flowLines(0, 20), "source=clock")
	own := 0
	for _, e := range c.readLog(t) {
		if e.origin != c.id {
			continue
		}
		own++
		if e.hlc <= near {
			t.Errorf("c wrote %s at %v, not after the imported %v", e.id, e.hlc.Time(), near.Time())
		}
		if e.hlc >= far {
			t.Errorf("c's clock followed a peer two hours ahead: %v", e.hlc.Time())
		}
	}
	if own == 0 {
		t.Fatal("c wrote no event")
	}
	t.Logf("c's %d events after the import are ordered after %v and before %v", own, near.Time(), far.Time())
}

// TestSyncRefusesUnauthorisedPeers: the sync endpoint refuses a TLS 1.2
// client, a request without a token, a token without the peer permission,
// and a peer token whose subject is not a configured peer.
func TestSyncRefusesUnauthorisedPeers(t *testing.T) {
	requireStack(t)
	sites := newSites(t, 2)
	a, b := sites[0], sites[1]
	a.configure(t, sites, map[string]peerLink{b.id: {url: "https://" + b.addr}}, nil)
	a.serve("serve", map[string]string{"HEIMDALL_COMPONENTS": "api,ingest,projector"})
	a.mustIngest(flowLines(0, 10), "source=refuse")
	url := "https://" + a.addr + "/v1/sync/events?wait=0s"
	get := func(c *http.Client, token string) (int, string, error) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := c.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), nil
	}
	// TLS 1.2 only: the handshake fails.
	tls12 := a.st.TLSConfig()
	tls12.MinVersion, tls12.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
	c12 := &http.Client{Transport: &http.Transport{TLSClientConfig: tls12}, Timeout: 10 * time.Second}
	if code, _, err := get(c12, a.st.TokenForClient(t, devstack.ClientPeer2)); err == nil {
		t.Fatalf("a TLS 1.2 client got %d", code)
	} else if !strings.Contains(err.Error(), "protocol version") && !strings.Contains(err.Error(), "tls") {
		t.Logf("TLS 1.2 refused: %v", err)
	}
	cases := []struct {
		name  string
		token string
		want  int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"no peer permission", a.st.TokenForClient(t, devstack.ClientNoPerm), http.StatusForbidden},
		{"admin but not peer", a.st.TokenForClient(t, devstack.ClientCLI), http.StatusForbidden},
		{"peer permission, not a configured peer", a.st.TokenForClient(t, devstack.ClientPeer3), http.StatusForbidden},
		{"garbage token", "eyJhbGciOiJub25lIn0.e30.", http.StatusUnauthorized},
	}
	for _, c := range cases {
		code, _, err := get(a.instance.client, c.token)
		if err != nil || code != c.want {
			t.Errorf("%s: %d %v, want %d", c.name, code, err, c.want)
		}
	}
	code, ct, err := get(a.instance.client, a.st.TokenForClient(t, b.client))
	if err != nil || code != http.StatusOK || ct != exchange.ContentType {
		t.Fatalf("the configured peer: %d %q %v", code, ct, err)
	}
}

// TestSyncPauseResume: `heimdall sync pause PEER` at b stops b importing
// from a (and serving a), recorded with who did it; events a ingests
// meanwhile do not reach b; `heimdall sync resume PEER` lets b catch up
// with all of them.
func TestSyncPauseResume(t *testing.T) {
	requireStack(t)
	a, b := twoPeers(t)
	sites := []*site{a, b}
	for _, s := range sites {
		s.serve("serve", map[string]string{"HEIMDALL_COMPONENTS": "api,ingest,projector,sync"})
		s.store = s.store0()
	}
	rng := rand.New(rand.NewPCG(7, 9))
	a.mustIngest(randomFlows(rng, 300, 1), "source="+a.id+"&file=before-pause.ndjson")
	waitConverged(t, sites, 2*time.Minute)

	operator := map[string]string{"HEIMDALL_CLIENT_ID": devstack.ClientCLI, "HEIMDALL_CLIENT_SECRET": b.st.ClientSecret(t, devstack.ClientCLI)}
	if out, err := b.run(operator, "sync", "pause", a.id); err != nil {
		t.Fatalf("sync pause: %v\n%s", err, out)
	}
	status := func(s *site) []syncstore.PeerStatus {
		t.Helper()
		out, err := s.run(nil, "sync", "status", "-json")
		if err != nil {
			t.Fatalf("%s: sync status: %v\n%s", s.id, err, out)
		}
		var st []syncstore.PeerStatus
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatalf("%s: sync status -json: %v\n%s", s.id, err, out)
		}
		return st
	}
	if st := status(b); len(st) != 1 || st[0].Peer != a.id || !st[0].Paused || !strings.Contains(st[0].PausedBy, b.st.SubjectOf(t, devstack.ClientCLI)) {
		t.Fatalf("status at b after the pause: %+v", st)
	}
	// A pull under way when the pause came may still end; after it none
	// starts (the agent checks every 2 s; pulls long-poll 2 s here).
	time.Sleep(6 * time.Second)
	held := logSize(t, b.instance)
	a.mustIngest(randomFlows(rng, 300, 2), "source="+a.id+"&file=during-pause.ndjson")
	time.Sleep(8 * time.Second)
	if n := logSize(t, b.instance); n != held {
		t.Fatalf("b's log grew from %d to %d records while a was paused", held, n)
	}
	if lag := logSize(t, a.instance); lag <= held {
		t.Fatalf("a's log (%d) did not grow past b's (%d)", lag, held)
	}

	if out, err := b.run(operator, "sync", "resume", a.id); err != nil {
		t.Fatalf("sync resume: %v\n%s", err, out)
	}
	digest := waitConverged(t, sites, 2*time.Minute)
	if st := status(b); st[0].Paused {
		t.Fatalf("status at b after the resume: %+v", st)
	}
	if na, nb := logSize(t, a.instance), logSize(t, b.instance); na != nb {
		t.Fatalf("after the resume a holds %d records, b %d", na, nb)
	}
	t.Logf("paused: b's log held at %d records while a grew; resumed: both converged (digest %s)", held, digest)
}
