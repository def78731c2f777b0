package graphstore

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The text rules, without a database: what is refused (with a part of the
// message) and what is not.
func TestCypherTextRules(t *testing.T) {
	refused := []struct{ q, msg string }{
		{"", "empty"},
		{"  \n", "empty"},
		{"RETURN 1 // " + strings.Repeat("x", MaxCypherQueryBytes), "longer"},
		{"RETURN '\xff'", "UTF-8"},
		{"RETURN '\x00'", "NUL"},
		{"CREATE (n:Domain {value: 'x'}) RETURN n", "CREATE is not allowed"},
		{"match (n) set n.x = 1 return n", "SET is not allowed"},
		{"MATCH (n) DELETE n", "DELETE is not allowed"},
		{"MATCH (n) DETACH DELETE n", "DETACH is not allowed"},
		{"MERGE (n:Domain {value: 'x'}) RETURN n", "MERGE is not allowed"},
		{"MATCH (n) REMOVE n.value RETURN n", "REMOVE is not allowed"},
		{"CALL db.labels() YIELD label RETURN label", "CALL is not allowed"},
		{"EXPLAIN MATCH (n) RETURN n", "EXPLAIN is not allowed"},
		{"MATCH (n) /* c */ CrEaTe (m) RETURN m", "CREATE is not allowed"},
		{"MATCH (n) `SET` n.x = 1 RETURN n", "SET is not allowed"}, // AGE takes `SET` for SET
		{"`CREATE` (n) RETURN n", "CREATE is not allowed"},
		{"MATCH (n) RETURN n.`delete`", "DELETE is not allowed"},
		{"RETURN 0xfSET", "SET is not allowed"},         // AGE scans 0xf, then SET
		{"RETURN 1.5e3CREATE", "CREATE is not allowed"}, // 1.5e3, then CREATE
		{"RETURN 1.e", "invalid number"},
		{"RETURN 1 $$) AS (x agtype); DROP TABLE heimdall.generations; --", "dollar-quote"},
		{"RETURN '$cypher_0123abcd$'", "dollar-quote"},
		{"RETURN $a$", "dollar-quote"},
		{"RETURN $", "parameter name"},
		{"RETURN $1", "parameter name"},
		{"RETURN $é", "parameter name"},
		{"RETURN a$b", "parameter name"},
		{"RETURN 1; MATCH (n) RETURN n", "one statement"},
		{"RETURN 1;", "one statement"},
		{"RETURN pg_catalog.pg_sleep(1)", "qualified"},
		{"RETURN pg_catalog . pg_sleep /* x */ (1)", "qualified"},
		{"RETURN `pg_catalog`.`current_setting`('x')", "qualified"},
		{"RETURN create_barbell_graph('g', 'v', 'k', 3, 'e', 1, 'e')", "built-in functions"},
		{"RETURN prepare_cypher('g', 'x')", "built-in functions"},
		{"RETURN `pg_catalog.pg_sleep`(1)", "built-in functions"},
		{"RETURN nosuchfunction(1)", "built-in functions"},
		{"RETURN 'unterminated", "unterminated string"},
		{"RETURN 'a\\'", "unterminated string"},
		{"RETURN 1 /* open", "unterminated /*"},
		{"RETURN `open", "unterminated quoted name"},
	}
	for _, c := range refused {
		err := checkCypherText(c.q)
		if !errors.Is(err, ErrCypherInvalid) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%.60q: got %v, want ErrCypherInvalid with %q", c.q, err, c.msg)
		}
	}
	// A refusal never repeats the query.
	if err := checkCypherText("MATCH (d) WHERE d.value = 'secret.example' SET d.x = 1"); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("message repeats the query: %v", err)
	}
	allowed := []string{
		"MATCH (d:Domain)-[r:RESOLVES_TO]->(i:IPv4) RETURN d, r, i.value",
		"MATCH (d:Domain) WHERE d.value = $v RETURN d.value",
		"MATCH (d) WHERE d.value = 'CREATE (x) SET x.y = 1; DELETE x MERGE CALL $5' RETURN d.value AS v",
		"MATCH (d) WHERE d.value = \"it's \\\" DETACH DELETE d; \" RETURN d // SET d.x = 1; $\n",
		"MATCH (d) /* CREATE (x); $ */ RETURN d['create'], `count`(1)",
		"MATCH (d)-[*1..3]->(x) WHERE x.value STARTS WITH 'a' RETURN count(*), collect(x.value)[0..2]",
		"RETURN toString(1), TOUPPER('a'), `toLower`('A'), exists(1), coalesce(null, 1), size([1, 2])",
		"MATCH p = (a)-[]->(b) WHERE NOT (a)-[]->() AND (b.x IN [1] OR (b.y > 1)) RETURN nodes(p), relationships(p)",
		"UNWIND range(1, 3) AS x WITH x WHERE x > 1 RETURN x ORDER BY x DESC SKIP 0 LIMIT 1",
		"RETURN CASE WHEN (1 = 1) THEN (2) ELSE (3) END, .5, 1., 0x1F, 1e3, 'héllo', $p_1",
		"RETURN 'costs $5 and $6'",
		"MATCH (ré) RETURN ré",
	}
	for _, q := range allowed {
		if err := checkCypherText(q); err != nil {
			t.Errorf("%q: %v", q, err)
		}
	}
}

func TestCypherAgtypeJSON(t *testing.T) {
	cases := map[string]string{
		`{"id": 1, "label": "Domain", "properties": {"value": "a::vertex"}}::vertex`: `{"id": 1, "label": "Domain", "properties": {"value": "a::vertex"}}`,
		`[{"id": 1, "label": "A", "properties": {}}::vertex, {"id": 2, "label": "R", "end_id": 3, "start_id": 1, "properties": {"q\"::edge": 1}}::edge, {"id": 3, "label": "B", "properties": {}}::vertex]::path`: `[{"id": 1, "label": "A", "properties": {}}, {"id": 2, "label": "R", "end_id": 3, "start_id": 1, "properties": {"q\"::edge": 1}}, {"id": 3, "label": "B", "properties": {}}]`,
		`1.5::numeric`:               `1.5`,
		`NaN::numeric`:               `"NaN"`,
		`[NaN, Infinity, -Infinity]`: `["NaN", "Infinity", "-Infinity"]`,
		`{"a": [1, -2.5e+20, true, null, "x\\", "NaN"]}`: `{"a": [1, -2.5e+20, true, null, "x\\", "NaN"]}`,
		`"a\nb\u0001"`: `"a\nb\u0001"`,
	}
	for in, want := range cases {
		got, err := agtypeJSON(in)
		if err != nil || string(got) != want {
			t.Errorf("%s: got %s, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{`1::regclass`, `"open`, `{"a": nope}`} {
		if _, err := agtypeJSON(bad); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// cypherGraph opens a store whose graph has n domains, each resolving to an IP.
func cypherGraph(t *testing.T, n int) *Store {
	t.Helper()
	s := openStore(t, testDatabase(t))
	w := newLogWriter(t)
	p := newProjector(t, s, w.codec)
	if err := p.Handle(context.Background(), w.append(0, dnsEvents(n, "b", 1)...)); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCypherReads(t *testing.T) {
	ctx := context.Background()
	s := cypherGraph(t, 3)

	res, err := s.Cypher(ctx, CypherQuery{
		Query:   "MATCH (d:Domain)-[r:RESOLVES_TO]->(i:IPv4) RETURN d, r, i.value ORDER BY d.value",
		Columns: []string{"d", "r", "ip"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 3 || res.Truncated || strings.Join(res.Columns, ",") != "d,r,ip" {
		t.Fatalf("result: %+v", res)
	}
	type element struct {
		ID         int64          `json:"id"`
		Label      string         `json:"label"`
		StartID    int64          `json:"start_id"`
		EndID      int64          `json:"end_id"`
		Properties map[string]any `json:"properties"`
	}
	for k, row := range res.Rows {
		var d, r element
		var ip string
		for i, cell := range row {
			if !json.Valid(cell) {
				t.Fatalf("row %d cell %d is not JSON: %s", k, i, cell)
			}
		}
		if err := json.Unmarshal(row[0], &d); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(row[1], &r); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(row[2], &ip); err != nil {
			t.Fatal(err)
		}
		if d.Label != "Domain" || d.Properties["value"] != domain(k).Value || d.ID == 0 {
			t.Fatalf("row %d vertex: %s", k, row[0])
		}
		if r.Label != "RESOLVES_TO" || r.StartID != d.ID || r.EndID == 0 {
			t.Fatalf("row %d edge: %s", k, row[1])
		}
		if ip != ipv4(k).Value {
			t.Fatalf("row %d value: %s", k, row[2])
		}
	}

	// A path is the array of its vertices and edges.
	res, err = s.Cypher(ctx, CypherQuery{Query: "MATCH p = (:Domain)-[:RESOLVES_TO]->(:IPv4) RETURN p, 1.5::numeric LIMIT 1", Columns: []string{"p", "n"}})
	if err != nil {
		t.Fatal(err)
	}
	var path []map[string]any
	if err := json.Unmarshal(res.Rows[0][0], &path); err != nil || len(path) != 3 || path[1]["label"] != "RESOLVES_TO" || string(res.Rows[0][1]) != "1.5" {
		t.Fatalf("path: %s %s %v", res.Rows[0][0], res.Rows[0][1], err)
	}

	// Parameters, including one that looks like an injection: a value only.
	for v, want := range map[string]int{domain(1).Value: 1, "x'); DROP TABLE heimdall.generations; --": 0} {
		res, err = s.Cypher(ctx, CypherQuery{
			Query:   "MATCH (d:Domain) WHERE d.value = $v RETURN d.value, $n",
			Params:  map[string]any{"v": v, "n": 7},
			Columns: []string{"value", "n"},
		})
		if err != nil || len(res.Rows) != want {
			t.Fatalf("param %q: %+v %v", v, res, err)
		}
		if want == 1 && (string(res.Rows[0][0]) != `"`+v+`"` || string(res.Rows[0][1]) != "7") {
			t.Fatalf("param row: %s", res.Rows[0])
		}
	}

	// Write keywords inside literals, comments and quoted names are fine.
	res, err = s.Cypher(ctx, CypherQuery{
		Query:   "MATCH (d:Domain) /* CREATE (x) */ WHERE d.value <> 'CREATE (n) SET n.x = 1; DETACH DELETE n' RETURN d.value AS v // MERGE",
		Columns: []string{"v"},
	})
	if err != nil || len(res.Rows) != 3 {
		t.Fatalf("keywords in literals: %+v %v", res, err)
	}

	// Limit and truncation; null cells.
	res, err = s.Cypher(ctx, CypherQuery{Query: "MATCH (v) RETURN v.nothing", Columns: []string{"x"}, Limit: 4})
	if err != nil || len(res.Rows) != 4 || !res.Truncated || string(res.Rows[0][0]) != "null" {
		t.Fatalf("limit 4 of 6: %d rows, truncated %v, %v", len(res.Rows), res.Truncated, err)
	}
	res, err = s.Cypher(ctx, CypherQuery{Query: "MATCH (v) RETURN id(v)", Columns: []string{"x"}, Limit: 6})
	if err != nil || len(res.Rows) != 6 || res.Truncated {
		t.Fatalf("limit 6 of 6: %d rows, truncated %v, %v", len(res.Rows), res.Truncated, err)
	}
	res, err = s.Cypher(ctx, CypherQuery{Query: "MATCH (v) WHERE v.value = 'none' RETURN v", Columns: []string{"x"}})
	if err != nil || res.Rows == nil || len(res.Rows) != 0 {
		t.Fatalf("no rows: %+v %v", res, err)
	}
}

func TestCypherRefusesWrites(t *testing.T) {
	ctx := context.Background()
	s := cypherGraph(t, 2)
	gen := activeGen(t, s)
	before := snap(t, s, gen)
	one := []string{"x"}

	for _, q := range []string{
		"CREATE (n:Domain {value: 'evil'}) RETURN n",
		"MATCH (d:Domain) SET d.value = 'evil' RETURN d",
		"MATCH (d:Domain) `SET` d.value = 'evil' RETURN d",
		"MATCH (d:Domain) DETACH DELETE d RETURN 1",
		"MATCH (d:Domain) DELETE d RETURN 1",
		"MERGE (n:Domain {value: 'evil'}) RETURN n",
		"MATCH (d:Domain) REMOVE d.value RETURN d",
		"CALL db.labels() YIELD label RETURN label",
		"RETURN ag_catalog.create_graph('evil')",
	} {
		if _, err := s.Cypher(ctx, CypherQuery{Query: q, Columns: one}); !errors.Is(err, ErrCypherInvalid) {
			t.Errorf("%q: %v", q, err)
		}
	}

	// Without the scan, the database refuses what it can: AGE checks the
	// read-only transaction for CREATE and MERGE...
	for _, q := range []string{"CREATE (n:Domain {value: 'evil'}) RETURN n", "CREATE (n:NewLabel) RETURN n", "MERGE (n:Domain {value: 'evil'}) RETURN n"} {
		_, err := s.runCypher(ctx, CypherQuery{Query: q, Columns: one})
		if !errors.Is(err, ErrCypherInvalid) || !strings.Contains(err.Error(), "read-only") {
			t.Errorf("unscanned %q: %v", q, err)
		}
	}
	// ...but not for SET, REMOVE and DELETE (AGE 1.5): they run, and the
	// rollback undoes them.
	res, err := s.runCypher(ctx, CypherQuery{Query: "MATCH (d:Domain) `SET` d.value = 'evil' RETURN d.value", Columns: one})
	if err != nil || len(res.Rows) != 2 || string(res.Rows[0][0]) != `"evil"` {
		t.Fatalf("unscanned SET: %+v %v", res, err)
	}
	for _, q := range []string{"MATCH (d:Domain) REMOVE d.value RETURN 1", "MATCH (d) DETACH DELETE d RETURN 1"} {
		if _, err := s.runCypher(ctx, CypherQuery{Query: q, Columns: one}); err != nil {
			t.Fatalf("unscanned %q: %v", q, err)
		}
	}
	if after := snap(t, s, gen); after != before {
		t.Fatalf("the graph changed: %+v, was %+v", after, before)
	}
}

func TestCypherInjection(t *testing.T) {
	ctx := context.Background()
	s := cypherGraph(t, 2)
	gen := activeGen(t, s)
	before := snap(t, s, gen)
	for _, q := range []string{
		"RETURN 1 $$) AS (x agtype); DROP TABLE heimdall.generations; --",
		"RETURN 1 $$, NULL) AS (x agtype); DROP TABLE heimdall.generations; SELECT * FROM ag_catalog.cypher('x', $$ RETURN 1",
		"RETURN '$cypher_00112233445566778899aabbccddeeff$) AS (x agtype); DROP TABLE heimdall.generations; --'",
		"RETURN 1 $tag$) AS (x agtype) --",
		"RETURN 1; DROP TABLE heimdall.generations",
		"MATCH (d) RETURN d;",
	} {
		if _, err := s.Cypher(ctx, CypherQuery{Query: q, Columns: []string{"x"}}); !errors.Is(err, ErrCypherInvalid) {
			t.Errorf("%q: %v", q, err)
		}
	}
	if after := snap(t, s, gen); after != before {
		t.Fatalf("the graph changed: %+v, was %+v", after, before)
	}
	var n int
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM heimdall.generations").Scan(&n); err != nil || n == 0 {
		t.Fatalf("generations: %d %v", n, err)
	}
}

func TestCypherTimeout(t *testing.T) {
	ctx := context.Background()
	s := cypherGraph(t, 200) // 400 vertices: the cartesian product has 64 million rows
	huge := "MATCH (a), (b), (c) RETURN count(*)"

	start := time.Now()
	_, err := s.Cypher(ctx, CypherQuery{Query: huge, Columns: []string{"n"}, Timeout: 100 * time.Millisecond})
	if !errors.Is(err, ErrCypherTimeout) || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("statement timeout: %v", err)
	}
	t.Logf("statement timeout: %v", err)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the timeout took %v", d)
	}

	dctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err = s.Cypher(dctx, CypherQuery{Query: huge, Columns: []string{"n"}})
	if !errors.Is(err, ErrCypherTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("context deadline: %v", err)
	}
	t.Logf("context deadline: %v", err)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the deadline took %v", d)
	}

	// The store (and the timeout setting of its connections) is unaffected.
	for range 10 {
		res, err := s.Cypher(ctx, CypherQuery{Query: "MATCH (d:Domain) RETURN count(d)", Columns: []string{"n"}})
		if err != nil || string(res.Rows[0][0]) != "200" {
			t.Fatalf("after timeouts: %+v %v", res, err)
		}
	}
	var timeout string
	if err := s.pool.QueryRow(ctx, "SHOW statement_timeout").Scan(&timeout); err != nil || timeout != "0" {
		t.Fatalf("statement_timeout leaked: %q %v", timeout, err)
	}
}

func TestCypherErrors(t *testing.T) {
	ctx := context.Background()
	s := cypherGraph(t, 1)
	invalid := func(name string, q CypherQuery, parts ...string) {
		t.Helper()
		_, err := s.Cypher(ctx, q)
		if !errors.Is(err, ErrCypherInvalid) {
			t.Errorf("%s: %v", name, err)
			return
		}
		t.Logf("%s: %v", name, err)
		for _, p := range parts {
			if !strings.Contains(err.Error(), p) {
				t.Errorf("%s: %q lacks %q", name, err, p)
			}
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: %q repeats the query", name, err)
		}
	}
	one := []string{"x"}
	invalid("too few columns", CypherQuery{Query: "MATCH (d:Domain) RETURN d, d.value", Columns: one}, "number of columns")
	invalid("too many columns", CypherQuery{Query: "MATCH (d:Domain) RETURN d", Columns: []string{"a", "b"}}, "number of columns")
	// AGE's syntax errors quote the rest of the query: that part is cut.
	invalid("syntax", CypherQuery{Query: "MATCH (d:Domain) WHERE d.value = 'secret.example' RETRUN d", Columns: one},
		"syntax error", "at character 51 of the query")
	invalid("escape", CypherQuery{Query: "RETURN 'a\\q secret'", Columns: one}, "invalid escape sequence", "at character 10 of the query")
	invalid("unterminated", CypherQuery{Query: "MATCH (d) WHERE d.value = \"secret", Columns: one}, "unterminated")
	invalid("undefined variable", CypherQuery{Query: "MATCH (d:Domain) RETURN secret", Columns: one}, "undefined variable", "at character 25 of the query")
	invalid("type", CypherQuery{Query: "MATCH (d:Domain) WHERE d.value = 'secret' OR true RETURN d.value * 2", Columns: one}, "agtype_mul")
	invalid("arguments", CypherQuery{Query: "RETURN toString(1, 2)", Columns: one}, "only supports one argument")
	invalid("no columns", CypherQuery{Query: "RETURN 1"})
	invalid("17 columns", CypherQuery{Query: "RETURN 1", Columns: strings.Split("a b c d e f g h i j k l m n o p q", " ")})
	invalid("bad column", CypherQuery{Query: "RETURN 1", Columns: []string{"X"}})
	invalid("quoted column", CypherQuery{Query: "RETURN 1", Columns: []string{`x" agtype) --`}})
	invalid("duplicate column", CypherQuery{Query: "RETURN 1, 2", Columns: []string{"a", "a"}})
	invalid("negative limit", CypherQuery{Query: "RETURN 1", Columns: one, Limit: -1})
	invalid("negative timeout", CypherQuery{Query: "RETURN 1", Columns: one, Timeout: -time.Second})
	invalid("params", CypherQuery{Query: "RETURN $v", Columns: one, Params: map[string]any{"v": func() {}}})

	// Bounds: capped, not refused.
	res, err := s.Cypher(ctx, CypherQuery{Query: "UNWIND range(1, 10001) AS x RETURN x", Columns: one, Limit: 50000, Timeout: time.Hour})
	if err != nil || len(res.Rows) != MaxCypherLimit || !res.Truncated {
		t.Fatalf("capped limit: %d rows, %v", len(res.Rows), err)
	}
}

// Every built-in function the scan allows exists in AGE, and every age_*
// function of AGE is either allowed or known not to be (a new AGE version
// must be reviewed).
func TestCypherFunctionsExist(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, testDatabase(t))
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT substr(proname, 5) FROM pg_catalog.pg_proc
		WHERE pronamespace = 'ag_catalog'::regnamespace AND proname LIKE 'age\_%'`)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	var name string
	if _, err := pgx.ForEachRow(rows, []any{&name}, func() error { have[name] = true; return nil }); err != nil {
		t.Fatal(err)
	}
	for f := range cypherFunctions {
		if !have[f] && f != "count" {
			t.Errorf("allowed function %s is not in AGE", f)
		}
	}
	notForQueries := map[string]bool{
		"agtype_float8_accum": true, "agtype_larger_aggtransfn": true, "agtype_smaller_aggtransfn": true,
		"agtype_sum": true, "build_vle_match_edge": true, "collect_aggfinalfn": true, "collect_aggtransfn": true,
		"create_barbell_graph": true, "delete_global_graphs": true, "eq_tilde": true,
		"float8_stddev_pop_aggfinalfn": true, "float8_stddev_samp_aggfinalfn": true, "match_two_vle_edges": true,
		"match_vle_edge_to_id_qual": true, "match_vle_terminal_edge": true, "materialize_vle_edges": true,
		"materialize_vle_path": true, "percentile_aggtransfn": true, "percentile_cont_aggfinalfn": true,
		"percentile_disc_aggfinalfn": true, "prepare_cypher": true, "unnest": true, "vertex_stats": true, "vle": true,
	}
	for f := range have {
		if !cypherFunctions[f] && !notForQueries[f] {
			t.Errorf("AGE function age_%s is neither allowed nor refused: review it", f)
		}
	}
}
