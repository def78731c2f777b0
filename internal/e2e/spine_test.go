package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heimdallhub/heimdall/internal/config/devstack"
	"github.com/heimdallhub/heimdall/internal/graphstore"
	"github.com/heimdallhub/heimdall/internal/kafka"
	"github.com/heimdallhub/heimdall/internal/observable"
	"github.com/heimdallhub/heimdall/internal/tlsconf"
)

// store opens the instance's graph store for assertions.
func (in *instance) store() *graphstore.Store {
	in.t.Helper()
	tlsCfg, err := tlsconf.Client(in.st.CAFile)
	if err != nil {
		in.t.Fatal(err)
	}
	s, err := graphstore.Open(context.Background(), in.dbURL, graphstore.WithTLSConfig(tlsCfg))
	if err != nil {
		in.t.Fatalf("opening the graph store: %v", err)
	}
	in.t.Cleanup(s.Close)
	return s
}

// waitProjected waits until the active generation's stored offsets reach the
// end of the event log.
func (in *instance) waitProjected(s *graphstore.Store, within time.Duration) {
	in.t.Helper()
	cl, err := kafka.NewClient(in.st.Kafka(in.t, devstack.KafkaAdmin))
	if err != nil {
		in.t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	deadline := time.Now().Add(within)
	var ends, got map[int32]int64
	for time.Now().Before(deadline) {
		ends, err = kafka.EndOffsets(ctx, cl, in.eventsT)
		if err != nil {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		gen, err := s.ActiveGeneration(ctx)
		if err != nil {
			in.t.Fatal(err)
		}
		parts := make([]int32, 0, len(ends))
		for p := range ends {
			parts = append(parts, p)
		}
		got, err = s.Offsets(ctx, gen, in.eventsT, parts)
		if err != nil {
			in.t.Fatal(err)
		}
		done := true
		for p, end := range ends {
			if end > 0 && got[p] < end {
				done = false
			}
		}
		if done {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	in.t.Fatalf("projection did not reach the end of the log within %s: ends %v, projected %v\n%s", within, ends, got, in.allLogs())
}

// flowLines generates n NDJSON flow records, each with its own source and
// destination address, starting at record first.
func flowLines(first, n int) []byte {
	var b bytes.Buffer
	for i := first; i < first+n; i++ {
		fmt.Fprintf(&b, `{"ts":"2026-11-%02dT%02d:%02d:%02dZ","src_ip":"%s","dst_ip":"%s","dst_port":%d,"proto":"tcp"}`+"\n",
			1+i%28, i%24, i%60, (i/60)%60, srcIP(i), dstIP(i), 1+i%65535)
	}
	return b.Bytes()
}

func srcIP(i int) string { return fmt.Sprintf("10.%d.%d.%d", (i>>16)&255, (i>>8)&255, i&255) }
func dstIP(i int) string { return fmt.Sprintf("100.%d.%d.%d", 64+(i>>16)&63, (i>>8)&255, i&255) }

// flowKeys returns the entity and relation keys record i produces.
func flowKeys(t testing.TB, i int) (entities []string, relation string) {
	src, err := observable.ParseIP(srcIP(i))
	if err != nil {
		t.Fatal(err)
	}
	dst, err := observable.ParseIP(dstIP(i))
	if err != nil {
		t.Fatal(err)
	}
	return []string{src.Key(), dst.Key()}, observable.RelationKey(src.Key(), "CONNECTED_TO", dst.Key())
}

// assertExactlyOnce checks that every record in acked is in the graph, as
// vertices and an edge, and that each of its events was applied once
// (one provenance row per record key and event).
func assertExactlyOnce(t *testing.T, s *graphstore.Store, acked []int) {
	t.Helper()
	ctx := context.Background()
	graphName, err := s.ActiveGraph(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ents, rels []string
	for _, i := range acked {
		e, r := flowKeys(t, i)
		ents = append(ents, e...)
		rels = append(rels, r)
	}
	q := func(sql string, args ...any) int64 {
		var n int64
		if err := s.Pool().QueryRow(ctx, strings.ReplaceAll(sql, "@g", pgx.Identifier{graphName}.Sanitize()), args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return n
	}
	if n := q(`SELECT count(*) FROM @g.entity_state WHERE key = ANY($1) AND first_seen IS NOT NULL`, ents); n != int64(len(ents)) {
		t.Errorf("%d of %d acknowledged entities are in the graph", n, len(ents))
	}
	if n := q(`SELECT count(*) FROM @g.relation_state WHERE key = ANY($1)`, rels); n != int64(len(rels)) {
		t.Errorf("%d of %d acknowledged relations are in the graph", n, len(rels))
	}
	if n := q(`SELECT count(*) FROM @g.provenance WHERE record_key = ANY($1)`, append(ents, rels...)); n != int64(len(ents)+len(rels)) {
		t.Errorf("acknowledged records have %d provenance rows, want exactly %d (one per event)", n, len(ents)+len(rels))
	}
	for _, label := range []string{"IPv4", "CONNECTED_TO"} {
		dups := q(`SELECT count(*) FROM (SELECT ag_catalog.agtype_access_operator(properties, '"key"'::ag_catalog.agtype)::text FROM @g.` +
			pgx.Identifier{label}.Sanitize() + ` GROUP BY 1 HAVING count(*) > 1) d`)
		if dups != 0 {
			t.Errorf("%d keys have more than one %s element", dups, label)
		}
	}
	var vertices, edges int64
	vertices = q(`SELECT count(*) FROM @g."IPv4" v JOIN @g.entity_state s ON s.graphid = v.id WHERE s.key = ANY($1)`, ents)
	edges = q(`SELECT count(*) FROM @g."CONNECTED_TO" e JOIN @g.relation_state r ON r.graphid = e.id WHERE r.key = ANY($1)`, rels)
	if vertices != int64(len(ents)) || edges != int64(len(rels)) {
		t.Errorf("label tables hold %d vertices and %d edges of the acknowledged records, want %d and %d", vertices, edges, len(ents), len(rels))
	}
}

// TestAPIListenerTLS13Only: the Heimdall API completes a TLS 1.3 handshake
// with a CA-signed leaf, and refuses TLS 1.2 and plaintext.
func TestAPIListenerTLS13Only(t *testing.T) {
	in := newInstance(t)
	in.serve("serve", nil)
	l := tlsListener{name: "heimdall-api", addr: func(testing.TB) string { return in.addr },
		refusesPlaintext: httpRefusesPlaintext}
	roots := devCAPool(t)
	state, err := tlsHandshake(t, l, &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS13, ServerName: "localhost"})
	if err != nil || state.Version != tls.VersionTLS13 {
		t.Fatalf("TLS 1.3 handshake: %v (version %x)", err, state.Version)
	}
	if leaf := state.PeerCertificates[0]; leaf.IsCA || leaf.CheckSignatureFrom(leaf) == nil {
		t.Fatal("API certificate is self-signed or a CA")
	}
	if _, err := tlsHandshake(t, l, &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12, ServerName: "localhost"}); err == nil {
		t.Fatal("TLS 1.2 client accepted by the API")
	}
	l.refusesPlaintext(t, in.addr)
}

// TestServeRefusesSelfSignedCertificate: Heimdall does not start with a
// self-signed leaf.
func TestServeRefusesSelfSignedCertificate(t *testing.T) {
	in := newInstance(t)
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "self.crt"), filepath.Join(dir, "self.key")
	out, err := exec.Command("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
		"-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost",
		"-addext", "subjectAltName=DNS:localhost", "-addext", "basicConstraints=critical,CA:FALSE").CombinedOutput()
	if err != nil {
		t.Fatalf("openssl: %v\n%s", err, out)
	}
	p := in.start("selfsigned", map[string]string{"HEIMDALL_TLS_CERT_FILE": cert, "HEIMDALL_TLS_KEY_FILE": key}, "serve")
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		t.Fatal("heimdall kept running with a self-signed certificate")
	}
	if p.cmd.ProcessState.ExitCode() == 0 || !strings.Contains(in.logs("selfsigned"), "self-signed") {
		t.Fatalf("want a non-zero exit naming the self-signed certificate; exit %d:\n%s", p.cmd.ProcessState.ExitCode(), in.logs("selfsigned"))
	}
}

// TestConfigReportsEveryProblem: a bad configuration names every variable at fault.
func TestConfigReportsEveryProblem(t *testing.T) {
	cmd := exec.Command(heimdallBinary(t), "serve")
	cmd.Env = []string{"HEIMDALL_PEER_ID=Not Valid", "HEIMDALL_KAFKA_PARTITIONS=x", "HEIMDALL_POSTGRES_URL=postgres://h/x?sslmode=disable"}
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatal("serve started with an invalid configuration")
	}
	for _, v := range []string{"HEIMDALL_PEER_ID", "HEIMDALL_KAFKA_PARTITIONS", "HEIMDALL_POSTGRES_URL", "HEIMDALL_KAFKA_BROKERS", "HEIMDALL_TLS_CERT_FILE", "HEIMDALL_OIDC_ISSUER"} {
		if !bytes.Contains(out, []byte(v)) {
			t.Errorf("error output does not name %s:\n%s", v, out)
		}
	}
}

// TestIngestRequiresToken: both endpoints refuse a request without a valid bearer token.
func TestIngestRequiresToken(t *testing.T) {
	in := newInstance(t)
	in.serve("serve", nil)
	for _, tc := range []struct{ method, path, token string }{
		{http.MethodPost, "/v1/ingest", ""},
		{http.MethodPost, "/v1/ingest", "not-a-jwt"},
		{http.MethodGet, "/v1/entities/ipv4-addr--12592121-be4c-5a93-a813-5a5af16e50db", ""},
		{http.MethodGet, "/v1/entities/ipv4-addr--12592121-be4c-5a93-a813-5a5af16e50db", in.token + "x"},
	} {
		req, _ := http.NewRequest(tc.method, "https://"+in.addr+tc.path, strings.NewReader(`{"src_ip":"192.0.2.1"}`))
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		resp, err := in.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s %s with token %t: %s %s, want 401 problem+json", tc.method, tc.path, tc.token != "", resp.Status, resp.Header.Get("Content-Type"))
		}
	}
}

// TestSampleThroughAPIAndCypher: the bundled sample lands in the graph; the
// API returns an entity with provenance and actor; Cypher sees the edges; the
// counts of the ingest response add up with line-level rejects.
func TestSampleThroughAPIAndCypher(t *testing.T) {
	in := newInstance(t)
	in.serve("serve", nil)
	root, _ := filepathModuleRoot(t)
	sample, err := os.ReadFile(filepath.Join(root, "deploy/samples/quickstart.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	res := in.mustIngest(sample, "source=quickstart&file=quickstart.ndjson")
	if res.Rows != 10 || res.Accepted != 6 || res.Rejected != 3 || res.Duplicates != 1 {
		t.Fatalf("sample counts: %+v", res)
	}
	wantRejects := map[int64]string{6: "invalid_observable", 7: "invalid_json", 9: "no_observables"}
	for _, r := range res.Rejects {
		if wantRejects[r.Line] != r.Code {
			t.Errorf("reject at line %d: %s", r.Line, r.Code)
		}
		delete(wantRejects, r.Line)
	}
	if len(wantRejects) != 0 {
		t.Errorf("missing rejects: %v", wantRejects)
	}
	s := in.store()
	in.waitProjected(s, time.Minute)

	dom, _ := observable.Canonicalize(observable.KindDomainName, "updates.example.com")
	var ent map[string]any
	if code := in.get("/v1/entities/"+dom.Key(), &ent); code != http.StatusOK {
		t.Fatalf("GET entity: %d", code)
	}
	b, _ := jsonMarshal(ent)
	actor := `"actor":"` + in.st.SubjectOf(t, devstack.ClientCLI) + `","actor_issuer":"` + in.st.OIDCIssuer + `"`
	for _, want := range []string{`"updates.example.com"`, `"quickstart"`, actor, res.RequestID, res.BatchID} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("entity view lacks %s:\n%s", want, b)
		}
	}
	if code := in.get("/v1/entities/ipv4-addr--00000000-0000-5000-8000-000000000000", nil); code != http.StatusNotFound {
		t.Errorf("unknown key: %d", code)
	}

	graphName, _ := s.ActiveGraph(context.Background())
	var n int64
	err = s.Pool().QueryRow(context.Background(), fmt.Sprintf(
		`SELECT count(*) FROM cypher('%s', $$ MATCH (d:Domain)-[:RESOLVES_TO]->(i:IPv4) RETURN i $$) AS (i agtype)`, graphName)).Scan(&n)
	if err != nil || n != 3 {
		t.Fatalf("cypher RESOLVES_TO count = %d, %v; want 3", n, err)
	}
}

// TestGracefulShutdown: SIGTERM stops serve cleanly (exit 0) and what it
// acknowledged is projected after a restart.
func TestGracefulShutdown(t *testing.T) {
	in := newInstance(t)
	p := in.serve("serve", nil)
	in.mustIngest(flowLines(0, 100), "source=shutdown")
	p.stop(t)
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit code %d after SIGTERM:\n%s", code, in.logs("serve"))
	}
	if !strings.Contains(in.logs("serve"), `"heimdall stopped"`) {
		t.Errorf("no shutdown log line:\n%s", in.logs("serve"))
	}
	in.serve("serve-again", nil)
	s := in.store()
	in.waitProjected(s, time.Minute)
	var acked []int
	for i := 0; i < 100; i++ {
		acked = append(acked, i)
	}
	assertExactlyOnce(t, s, acked)
}
