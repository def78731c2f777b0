package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heimdallhub/heimdall/internal/config/devstack"
	"github.com/heimdallhub/heimdall/internal/observable"
)

// clearancePolicy makes client addresses SECRET and the rest UNCLASSIFIED.
const clearancePolicy = `
version: "2026-11-28.2"
levels: [UNCLASSIFIED, CONFIDENTIAL, SECRET, TOP SECRET]
default: {level: TOP SECRET, action: drop}
profiles:
  generic:
    fields:
      src_ip:   {level: SECRET, action: pseudonymise, kind: ip}
      dst_ip:   {level: UNCLASSIFIED, action: keep}
      query:    {level: UNCLASSIFIED, action: keep}
      answers:  {level: UNCLASSIFIED, action: keep}
      dst_port: {level: UNCLASSIFIED, action: keep}
`

// getAs fetches path with token and decodes JSON into v.
func (in *instance) getAs(token, path string, v any) int {
	in.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "https://"+in.addr+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := in.client.Do(req)
	if err != nil {
		in.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	if v != nil {
		_ = json.NewDecoder(resp.Body).Decode(v)
	}
	return resp.StatusCode
}

// TestReadsHonourClearance: a caller below an entity's classification does
// not see it, through the entity route, its edge counts or a neighbourhood.
func TestReadsHonourClearance(t *testing.T) {
	in := newInstance(t)
	policyFile := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(policyFile, []byte(clearancePolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	in.serve("serve", map[string]string{"HEIMDALL_PII_POLICY": policyFile})
	in.mustIngest([]byte(`{"src_ip":"192.0.2.77","dst_ip":"198.51.100.5","dst_port":443}
{"query":"files.example.net","answers":["198.51.100.5"]}
`), "source=clearance")
	in.waitProjected(in.store(), time.Minute)

	dst, _ := observable.ParseIP("198.51.100.5")
	dom, _ := observable.Canonicalize(observable.KindDomainName, "files.example.net")
	src := in.personalKey(observable.KindIPv4Addr, "192.0.2.77")
	top := in.token                                        // heimdall-cli: TOP SECRET
	low := in.st.TokenForUser(t, "bob")                    // CONFIDENTIAL
	none := in.st.TokenForClient(t, devstack.ClientNoPerm) // no clearance

	type entity struct {
		InEdges map[string]int64 `json:"in_edges"`
	}
	var e entity
	if code := in.getAs(top, "/v1/entities/"+src, nil); code != http.StatusOK {
		t.Fatalf("TOP SECRET reader, SECRET entity: %d", code)
	}
	if code := in.getAs(top, "/v1/entities/"+dst.Key(), &e); code != http.StatusOK || e.InEdges["CONNECTED_TO"] != 1 || e.InEdges["RESOLVES_TO"] != 1 {
		t.Fatalf("TOP SECRET reader: %d %+v", code, e)
	}
	if code := in.getAs(low, "/v1/entities/"+src, nil); code != http.StatusNotFound {
		t.Fatalf("CONFIDENTIAL reader, SECRET entity: %d (want 404: its existence is hidden)", code)
	}
	e = entity{}
	if code := in.getAs(low, "/v1/entities/"+dst.Key(), &e); code != http.StatusOK || e.InEdges["CONNECTED_TO"] != 0 || e.InEdges["RESOLVES_TO"] != 1 {
		t.Fatalf("CONFIDENTIAL reader: %d %+v (the SECRET edge must not be counted)", code, e)
	}
	if code := in.getAs(none, "/v1/entities/"+dst.Key(), nil); code != http.StatusForbidden {
		t.Fatalf("caller without roles: %d (deny by default)", code)
	}

	type hood struct {
		Vertices []struct {
			Key string `json:"key"`
		} `json:"vertices"`
		Edges []struct {
			Type string `json:"type"`
		} `json:"edges"`
	}
	var h hood
	if code := in.getAs(top, "/v1/entities/"+dom.Key()+"/neighbours?depth=2", &h); code != http.StatusOK || len(h.Vertices) != 3 || len(h.Edges) != 2 {
		t.Fatalf("TOP SECRET neighbours: %d %+v", code, h)
	}
	h = hood{}
	if code := in.getAs(low, "/v1/entities/"+dom.Key()+"/neighbours?depth=2", &h); code != http.StatusOK || len(h.Vertices) != 2 || len(h.Edges) != 1 {
		t.Fatalf("CONFIDENTIAL neighbours: %d %+v", code, h)
	}
	for _, v := range h.Vertices {
		if v.Key == src {
			t.Fatal("the SECRET vertex leaked through the neighbourhood")
		}
	}
	// Paths: domain -> address exists for both readers; domain -> SECRET
	// client address only for the TOP SECRET reader.
	type path struct {
		Hops     int `json:"hops"`
		Vertices []struct {
			Key string `json:"key"`
		} `json:"vertices"`
	}
	var pth path
	if code := in.getAs(top, "/v1/paths?from="+dom.Key()+"&to="+src, &pth); code != http.StatusOK || pth.Hops != 2 || pth.Vertices[1].Key != dst.Key() {
		t.Fatalf("TOP SECRET path: %d %+v", code, pth)
	}
	if code := in.getAs(low, "/v1/paths?from="+dom.Key()+"&to="+src, nil); code != http.StatusNotFound {
		t.Fatalf("CONFIDENTIAL path to a SECRET entity: %d", code)
	}
	if code := in.getAs(low, "/v1/paths?from="+dom.Key()+"&to="+dst.Key(), &pth); code != http.StatusOK || pth.Hops != 1 {
		t.Fatalf("CONFIDENTIAL path: %d %+v", code, pth)
	}
	// Lookup by raw value: canonicalised, ambiguous forms refused, personal
	// values found under their personal key, clearance honoured.
	type lookup struct {
		Matched string `json:"matched"`
		Entity  struct {
			Key string `json:"key"`
		} `json:"entity"`
	}
	var lk lookup
	if code := in.getAs(low, "/v1/entities?ip=198.51.100.005", nil); code != http.StatusBadRequest {
		t.Errorf("ambiguous address: %d", code)
	}
	if code := in.getAs(low, "/v1/entities?ip=198.51.100.5", &lk); code != http.StatusOK || lk.Matched != "plain" || lk.Entity.Key != dst.Key() {
		t.Errorf("plain lookup: %d %+v", code, lk)
	}
	if code := in.getAs(low, "/v1/entities?domain=FILES.Example.NET.", &lk); code != http.StatusOK || lk.Entity.Key != dom.Key() {
		t.Errorf("canonicalised lookup: %d %+v", code, lk)
	}
	if code := in.getAs(top, "/v1/entities?ip=::ffff:192.0.2.77", &lk); code != http.StatusOK || lk.Matched != "personal" || lk.Entity.Key != src {
		t.Errorf("personal lookup: %d %+v", code, lk)
	}
	if code := in.getAs(low, "/v1/entities?ip=192.0.2.77", nil); code != http.StatusNotFound {
		t.Errorf("personal SECRET lookup for a CONFIDENTIAL reader: %d", code)
	}
	if code := in.getAs(top, "/v1/entities?ip=1.2.3.4&domain=a.b", nil); code != http.StatusBadRequest {
		t.Errorf("two values: %d", code)
	}
	for _, bad := range []string{"?depth=0", "?depth=9", "?limit=0", "?label=bad-label"} {
		if code := in.getAs(top, "/v1/entities/"+dom.Key()+"/neighbours"+bad, nil); code != http.StatusBadRequest {
			t.Errorf("neighbours%s: %d", bad, code)
		}
	}
}

// TestLookAlikeSearch: typosquats of a seeded domain rank above unrelated
// domains through GET /v1/similar.
func TestLookAlikeSearch(t *testing.T) {
	in := newInstance(t)
	in.serve("serve", nil)
	var body []byte
	for _, d := range []string{"paypal.com", "paypa1.com", "pay-pal.com", "xn--pypal-4ve.com", "example.org", "github.com",
		"kernel.org", "wikipedia.org", "microsoft.com", "ebay.com", "amazon.com", "golang.org"} {
		body = append(body, `{"query":"`+d+`","answers":["192.0.2.1"]}`+"\n"...)
	}
	in.mustIngest(body, "source=lookalike")
	in.waitProjected(in.store(), time.Minute)
	var res struct {
		Query   string `json:"query"`
		Matches []struct {
			Value      string  `json:"value"`
			Similarity float64 `json:"similarity"`
		} `json:"matches"`
	}
	if code := in.get("/v1/similar?domain=PayPal.com.&limit=5", &res); code != http.StatusOK || res.Query != "paypal.com" || len(res.Matches) != 5 {
		t.Fatalf("similar: %d %+v", code, res)
	}
	top := map[string]bool{}
	for _, m := range res.Matches[:3] {
		top[m.Value] = true
	}
	for _, want := range []string{"paypa1.com", "pay-pal.com", "xn--pypal-4ve.com"} {
		if !top[want] {
			t.Errorf("%s is not among the 3 best look-alikes: %+v", want, res.Matches)
		}
	}
	if res.Matches[3].Similarity >= res.Matches[2].Similarity {
		t.Errorf("an unrelated domain ranks with the look-alikes: %+v", res.Matches)
	}
	if code := in.get("/v1/similar?domain=not..valid", nil); code != http.StatusBadRequest {
		t.Errorf("invalid domain: %d", code)
	}
	// A look-alike classified SECRET is not among a CONFIDENTIAL reader's
	// results.
	if code := in.patch(in.token, "/v1/records/"+mustKey(t, "domain-name", "paypa1.com")+"/classification", `{"level":"SECRET"}`); code != http.StatusAccepted {
		t.Fatalf("classify: %d", code)
	}
	in.waitProjected(in.store(), time.Minute)
	bob := in.st.TokenForUser(t, "bob")
	res.Matches = nil
	if code := in.getAs(bob, "/v1/similar?domain=paypal.com&limit=20", &res); code != http.StatusOK {
		t.Fatalf("bob similar: %d", code)
	}
	for _, m := range res.Matches {
		if m.Value == "paypa1.com" {
			t.Fatal("a SECRET look-alike in a CONFIDENTIAL reader's results")
		}
	}
	res.Matches = nil
	if code := in.get("/v1/similar?domain=paypal.com&limit=20", &res); code != http.StatusOK || res.Matches[0].Value != "paypa1.com" && res.Matches[1].Value != "paypa1.com" {
		t.Fatalf("admin similar after classification: %d %+v", code, res.Matches)
	}
}

// TestTimelineAndCorrelationRoutes drives the history and correlation
// routes through the API, with clearance.
func TestTimelineAndCorrelationRoutes(t *testing.T) {
	in := newInstance(t)
	policyFile := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(policyFile, []byte(clearancePolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	in.serve("serve", map[string]string{"HEIMDALL_PII_POLICY": policyFile})
	flows := `{"ts":"2026-11-20T08:00:00Z","src_ip":"192.0.2.77","dst_ip":"198.51.100.5","dst_port":443}
{"ts":"2026-11-20T08:00:02Z","query":"files.example.net","answers":["198.51.100.5"]}
`
	a := in.mustIngest([]byte(flows), "source=sensor-a")
	b := in.mustIngest([]byte(`{"ts":"2026-11-20T09:00:00Z","dst_ip":"198.51.100.5","src_ip":"192.0.2.78"}`+"\n"), "source=sensor-b")
	in.waitProjected(in.store(), time.Minute)
	dst, _ := observable.ParseIP("198.51.100.5")
	low := in.st.TokenForUser(t, "bob")

	var tl struct {
		Events []struct {
			EventID string `json:"event_id"`
			Source  string `json:"source"`
			Actor   string `json:"actor"`
		} `json:"events"`
		Next string `json:"next"`
	}
	if code := in.getAs(low, "/v1/entities/"+dst.Key()+"/timeline?limit=2", &tl); code != http.StatusOK || len(tl.Events) != 2 || tl.Next == "" || tl.Events[0].Actor == "" {
		t.Fatalf("timeline page 1: %d %+v", code, tl)
	}
	next := tl.Next
	tl.Events, tl.Next = nil, ""
	if code := in.getAs(low, "/v1/entities/"+dst.Key()+"/timeline?limit=2&before="+next, &tl); code != http.StatusOK || len(tl.Events) != 1 || tl.Next != "" {
		t.Fatalf("timeline page 2: %d %+v", code, tl)
	}
	if code := in.getAs(low, "/v1/entities/"+in.personalKey(observable.KindIPv4Addr, "192.0.2.77")+"/timeline", nil); code != http.StatusNotFound {
		t.Fatalf("timeline of a SECRET entity for a CONFIDENTIAL reader: %d", code)
	}

	var cr struct {
		Vertices []struct {
			Key string `json:"key"`
		} `json:"vertices"`
	}
	if code := in.getAs(low, "/v1/correlations?min_sources=2", &cr); code != http.StatusOK || len(cr.Vertices) != 1 || cr.Vertices[0].Key != dst.Key() {
		t.Fatalf("seen by 2 sources: %d %+v", code, cr)
	}
	if code := in.getAs(low, "/v1/correlations?batch="+a.BatchID+"&batch="+b.BatchID, &cr); code != http.StatusOK || len(cr.Vertices) != 1 {
		t.Fatalf("shared by two batches: %d %+v", code, cr)
	}
	if code := in.getAs(low, "/v1/correlations", nil); code != http.StatusBadRequest {
		t.Fatalf("correlation without a criterion: %d", code)
	}
	var co struct {
		Entities []struct {
			Key   string `json:"key"`
			Count int64  `json:"count"`
		} `json:"entities"`
	}
	dom, _ := observable.Canonicalize(observable.KindDomainName, "files.example.net")
	if code := in.getAs(low, "/v1/entities/"+dst.Key()+"/cooccurring?window=10s", &co); code != http.StatusOK || len(co.Entities) != 1 || co.Entities[0].Key != dom.Key() {
		t.Fatalf("co-occurring (the SECRET client must not show): %d %+v", code, co)
	}
}

// TestPermissionsDenyByDefault: each route needs the permission its
// caller's roles grant.
func TestPermissionsDenyByDefault(t *testing.T) {
	in := newInstance(t)
	in.serve("serve", nil)
	bob := in.st.TokenForUser(t, "bob")     // heimdall-analyst: read
	carol := in.st.TokenForUser(t, "carol") // heimdall-ingest: ingest
	peer := in.st.TokenForClient(t, devstack.ClientPeer)
	key := "ipv4-addr--00000000-0000-5000-8000-000000000000"
	post := func(token, path, body string) int {
		req, _ := http.NewRequest(http.MethodPost, "https://"+in.addr+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := in.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		who, token   string
		read, ingest int
	}{
		{"admin client", in.token, http.StatusNotFound, http.StatusOK},
		{"analyst", bob, http.StatusNotFound, http.StatusForbidden},
		{"ingest user", carol, http.StatusForbidden, http.StatusOK},
		{"peer", peer, http.StatusForbidden, http.StatusForbidden},
	} {
		if code := in.getAs(tc.token, "/v1/entities/"+key, nil); code != tc.read {
			t.Errorf("%s reading: %d, want %d", tc.who, code, tc.read)
		}
		if code := post(tc.token, "/v1/ingest?source=perm", `{"src_ip":"192.0.2.1","dst_ip":"192.0.2.2"}`+"\n"); code != tc.ingest {
			t.Errorf("%s ingesting: %d, want %d", tc.who, code, tc.ingest)
		}
		want := http.StatusForbidden
		if tc.token == in.token {
			want = http.StatusOK
		}
		if code := post(tc.token, "/v1/decrypt", `{"items":[{"record":"`+key+`","field":"value"}]}`); code != want {
			t.Errorf("%s decrypting: %d, want %d", tc.who, code, want)
		}
	}
}

// TestCypherEndpoint: read-only Cypher for callers cleared for everything;
// writes refused; everyone else refused (a query could test hidden values).
func TestCypherEndpoint(t *testing.T) {
	in := newInstance(t)
	in.serve("serve", nil)
	in.mustIngest([]byte(`{"query":"cypher.example.net","answers":["198.51.100.31"]}`+"\n"), "source=cypher")
	in.waitProjected(in.store(), time.Minute)
	post := func(token, body string, v any) int {
		req, _ := http.NewRequest(http.MethodPost, "https://"+in.addr+"/v1/cypher", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := in.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if v != nil {
			_ = json.NewDecoder(resp.Body).Decode(v)
		}
		return resp.StatusCode
	}
	var res struct {
		Columns []string            `json:"columns"`
		Rows    [][]json.RawMessage `json:"rows"`
	}
	q := `{"query":"MATCH (d:Domain)-[:RESOLVES_TO]->(i:IPv4) WHERE d.value = $v RETURN d.value, i.value","params":{"v":"cypher.example.net"},"columns":["domain","ip"]}`
	if code := post(in.token, q, &res); code != http.StatusOK || len(res.Rows) != 1 || string(res.Rows[0][1]) != `"198.51.100.31"` {
		t.Fatalf("cypher: %d %+v", code, res)
	}
	for _, bad := range []string{
		`{"query":"CREATE (n:Domain {value: 'x'}) RETURN n","columns":["n"]}`,
		`{"query":"MATCH (n) DETACH DELETE n RETURN 1","columns":["n"]}`,
		`{"query":"MATCH (n) RETURN n $$) AS (n agtype); DROP TABLE heimdall.generations; --","columns":["n"]}`,
	} {
		if code := post(in.token, bad, nil); code != http.StatusBadRequest {
			t.Errorf("write or injection %s: %d", bad, code)
		}
	}
	if code := post(in.token, q, &res); code != http.StatusOK || len(res.Rows) != 1 {
		t.Fatalf("the graph changed: %d %+v", code, res)
	}
	if code := post(in.st.TokenForUser(t, "bob"), q, nil); code != http.StatusForbidden {
		t.Errorf("CONFIDENTIAL reader: %d", code)
	}
	if code := post(in.st.TokenForUser(t, "carol"), q, nil); code != http.StatusForbidden {
		t.Errorf("caller without read: %d", code)
	}
}

// TestConfiguredLevels: a deployment with its own levels (here a fifth
// level above TOP SECRET) classifies, hides and refuses by them.
func TestConfiguredLevels(t *testing.T) {
	in := newInstance(t)
	policyFile := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(policyFile, []byte(`
version: "2026-11-28.5"
levels: [UNCLASSIFIED, CONFIDENTIAL, SECRET, TOP SECRET, COSMIC]
default: {level: COSMIC, action: drop}
profiles:
  generic:
    fields:
      src_ip: {level: COSMIC, action: pseudonymise, kind: ip}
      dst_ip: {level: UNCLASSIFIED, action: keep}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	// The policy must list the configured levels.
	if out, err := in.run(map[string]string{"HEIMDALL_PII_POLICY": policyFile, "HEIMDALL_HTTP_ADDR": "127.0.0.1:0"}, "serve"); err == nil || !strings.Contains(out, "HEIMDALL_CLASSIFICATION_LEVELS") {
		t.Fatalf("mismatched levels accepted: %v\n%s", err, out)
	}
	in.serve("serve", map[string]string{"HEIMDALL_PII_POLICY": policyFile, "HEIMDALL_CLASSIFICATION_LEVELS": "UNCLASSIFIED,CONFIDENTIAL,SECRET,TOP SECRET,COSMIC"})
	in.mustIngest([]byte(`{"src_ip":"192.0.2.90","dst_ip":"198.51.100.90"}`+"\n"), "source=levels")
	in.waitProjected(in.store(), time.Minute)
	dst := mustKey(t, "ipv4-addr", "198.51.100.90")
	var e struct {
		Classification string           `json:"classification"`
		InEdges        map[string]int64 `json:"in_edges"`
	}
	// The tools' client is cleared for TOP SECRET: below COSMIC.
	if code := in.get("/v1/entities/"+dst, &e); code != http.StatusOK || e.Classification != "UNCLASSIFIED" || e.InEdges["CONNECTED_TO"] != 0 {
		t.Fatalf("kept address: %d %+v", code, e)
	}
	if code := in.get("/v1/entities/"+in.personalKey("ipv4-addr", "192.0.2.90"), nil); code != http.StatusNotFound {
		t.Fatalf("COSMIC entity for a TOP SECRET reader: %d", code)
	}
	if code := in.patch(in.token, "/v1/records/"+dst+"/classification", `{"level":"COSMIC"}`); code != http.StatusForbidden {
		t.Fatalf("classifying above one's clearance: %d", code)
	}
}
