package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/heimdallhub/heimdall/internal/config/devstack"
	"github.com/heimdallhub/heimdall/internal/kafka"
	"github.com/heimdallhub/heimdall/internal/telemetry"
)

// The metrics tests: /metrics of a running Heimdall passes `promtool check
// metrics`, the consumer lag is exported and falls to 0, and the Grafana
// dashboard (deploy/grafana/heimdall.json) only uses metrics that exist.

const dashboardPath = "deploy/grafana/heimdall.json"

// metricsWithEnricher runs the enrichment worker (with one HTTP provider
// against a local stand-in) in TestMetricsPromtool, so its metrics are
// linted too.
const metricsWithEnricher = true

// promtool is the path of promtool from the development stack
// (HEIMDALL_PROMTOOL, written by deploy/stack.sh up). Missing is a failure.
func promtool(t *testing.T) string {
	t.Helper()
	requireStack(t)
	p := os.Getenv("HEIMDALL_PROMTOOL")
	if p == "" {
		t.Fatal("HEIMDALL_PROMTOOL is not set: run deploy/stack.sh up (it installs promtool) and source .stack/env")
	}
	if fi, err := os.Stat(p); err != nil || fi.Mode()&0o111 == 0 {
		t.Fatalf("HEIMDALL_PROMTOOL=%s is not an executable (%v): run deploy/stack.sh up", p, err)
	}
	return p
}

// scrape fetches /metrics of the instance.
func (in *instance) scrape() []byte {
	in.t.Helper()
	resp, err := in.client.Get("https://" + in.addr + "/metrics")
	if err != nil {
		in.t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		in.t.Fatalf("GET /metrics: status %d, err %v\n%s", resp.StatusCode, err, b)
	}
	return b
}

func parseMetrics(t testing.TB, text []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		t.Fatalf("parsing /metrics: %v\n%s", err, text)
	}
	return mfs
}

func metricLabels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, lp := range m.GetLabel() {
		out[lp.GetName()] = lp.GetValue()
	}
	return out
}

// groupLag is the lag gauge of a consumer group: partition -> records.
func groupLag(mfs map[string]*dto.MetricFamily, group string) map[string]float64 {
	out := map[string]float64{}
	for _, m := range mfs[kafka.MetricConsumerLag].GetMetric() {
		if l := metricLabels(m); l["group"] == group {
			out[l["partition"]] = m.GetGauge().GetValue()
		}
	}
	return out
}

// groupCounter is a consumer counter of a group (0 if absent).
func groupCounter(mfs map[string]*dto.MetricFamily, name, group string) float64 {
	for _, m := range mfs[name].GetMetric() {
		if metricLabels(m)["group"] == group {
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// metricsRepServer is a stand-in reputation API on TLS 1.3: addresses
// ending in .13 answer 503 (an error class for the provider metrics).
func metricsRepServer(t *testing.T, st devstack.Stack) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /check", func(w http.ResponseWriter, r *http.Request) {
		ip := r.URL.Query().Get("ip")
		if strings.HasSuffix(ip, ".13") {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, `{"data":{"ip":%q,"score":%d}}`, ip, len(ip))
	})
	srv := &http.Server{Handler: mux, TLSConfig: st.ServerTLSConfig(t)}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", srv.TLSConfig)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "https://" + ln.Addr().String()
}

func metricsProvidersFile(t *testing.T, st devstack.Stack, url string) string {
	t.Helper()
	y := fmt.Sprintf(`providers:
  - name: rep
    type: http
    kinds: [ipv4-addr]
    rate: 20
    burst: 2
    max_attempts: 2
    ttl: 1h
    ca_file: %q
    http:
      url: "%s/check?ip={value}"
      fields: {score: data.score}
`, st.CAFile, url)
	path := filepath.Join(t.TempDir(), "providers.yaml")
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestMetricsPromtool: a Heimdall running the API, ingest, the projectors
// (and the enrichment worker) serves /metrics that `promtool check metrics`
// accepts after an ingest; every consumer group exports its lag for each
// partition, which falls to 0 once the projection caught up, and its
// records counter then equals the records in the log.
func TestMetricsPromtool(t *testing.T) {
	tool := promtool(t)
	in := newInstance(t)
	components := "api,ingest,projector"
	extra := map[string]string{}
	if metricsWithEnricher {
		components += ",enricher"
		extra["HEIMDALL_ENRICH_PROVIDERS"] = metricsProvidersFile(t, in.st, metricsRepServer(t, in.st))
	}
	extra["HEIMDALL_COMPONENTS"] = components
	in.serve("serve", extra)

	var body bytes.Buffer
	for i := range 20 {
		fmt.Fprintf(&body, `{"ts":"2026-11-27T10:00:%02dZ","src_ip":"10.1.0.%d","dst_ip":"198.51.100.%d","dst_port":443,"proto":"tcp"}`+"\n", i, i+1, i+1)
	}
	body.WriteString("{not json\n") // a rejected row
	res := in.mustIngest(body.Bytes(), "source=metrics-test&format=ndjson")
	if res.Accepted != 20 || res.Rejected != 1 {
		t.Fatalf("ingest: %+v", res)
	}

	groups := []string{
		"heimdall.projector.graph." + in.eventsT,
		"heimdall.projector.audit." + in.env["HEIMDALL_KAFKA_AUDIT_TOPIC"],
	}
	if metricsWithEnricher {
		groups = append(groups, "heimdall.enricher."+in.eventsT)
	}
	cl, err := kafka.NewClient(kafkaConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	logSize := func(topic string) float64 {
		ends, err := kafka.EndOffsets(context.Background(), cl, topic)
		if err != nil {
			return -1
		}
		var n int64
		for _, e := range ends {
			n += e
		}
		return float64(n)
	}

	// Caught up: every group has lag 0 on all 3 partitions, and the graph
	// projector applied every record of the log (the enrichment worker's
	// results included, so wait for a stable state).
	var mfs map[string]*dto.MetricFamily
	var text []byte
	deadline := time.Now().Add(2 * time.Minute)
	for {
		text = in.scrape()
		mfs = parseMetrics(t, text)
		caughtUp := true
		var why []string
		for _, g := range groups {
			lag := groupLag(mfs, g)
			if len(lag) != 3 {
				caughtUp = false
				why = append(why, fmt.Sprintf("%s: lag series %v, want partitions 0,1,2", g, lag))
				continue
			}
			for p, v := range lag {
				if v != 0 {
					caughtUp = false
					why = append(why, fmt.Sprintf("%s/%s: lag %v", g, p, v))
				}
			}
		}
		graphGroup := groups[0]
		applied, size := groupCounter(mfs, kafka.MetricConsumerRecords, graphGroup), logSize(in.eventsT)
		if applied != size || size < float64(res.Events) {
			caughtUp = false
			why = append(why, fmt.Sprintf("%s: %v records applied, the log has %v (ingest wrote %d events)", graphGroup, applied, size, res.Events))
		}
		// The enrichment worker got to 198.51.100.13, which its provider
		// refuses: the error and retry series exist for the linter too.
		if metricsWithEnricher && len(mfs["heimdall_enrich_provider_errors_total"].GetMetric()) == 0 {
			caughtUp = false
			why = append(why, "no heimdall_enrich_provider_errors_total yet (the provider answers 503 for 198.51.100.13)")
		}
		if caughtUp {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("projection did not catch up: %s\n%s", strings.Join(why, "; "), in.allLogs())
		}
		time.Sleep(300 * time.Millisecond)
	}
	for _, name := range []string{kafka.MetricConsumerLag, kafka.MetricConsumerRecords, kafka.MetricConsumerBatches,
		kafka.MetricConsumerBatchDuration, kafka.MetricConsumerRestarts,
		"heimdall_http_requests_total", "heimdall_http_request_duration_seconds", "go_goroutines", "process_cpu_seconds_total"} {
		if mfs[name] == nil {
			t.Errorf("/metrics has no %s", name)
		}
	}
	for _, g := range groups {
		if groupCounter(mfs, kafka.MetricConsumerBatches, g) < 1 {
			t.Errorf("%s: no batch counted", g)
		}
	}
	if metricsWithEnricher {
		for _, name := range []string{"heimdall_enrich_provider_calls_total", "heimdall_enrich_backlog_jobs", "heimdall_enrich_provider_breaker_state"} {
			if mfs[name] == nil {
				t.Errorf("/metrics has no %s although the enricher runs", name)
			}
		}
	}

	// The linter: what `promtool check metrics` prints is a problem.
	cmd := exec.Command(tool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(text)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

// ---------------------------------------------------------------------------
// The dashboard
// ---------------------------------------------------------------------------

// dashboardExprs returns every PromQL expression of the dashboard: panel
// targets (rows' nested panels included) and template variable queries.
func dashboardExprs(t *testing.T) []string {
	t.Helper()
	root, err := devstack.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, dashboardPath))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Title      string            `json:"title"`
		UID        string            `json:"uid"`
		Panels     []json.RawMessage `json:"panels"`
		Templating struct {
			List []struct {
				Name  string          `json:"name"`
				Type  string          `json:"type"`
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardPath, err)
	}
	if d.Title == "" || d.UID == "" {
		t.Fatalf("%s: no title or uid", dashboardPath)
	}
	type panel struct {
		ID      int    `json:"id"`
		Type    string `json:"type"`
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
		Panels []json.RawMessage `json:"panels"`
	}
	var exprs []string
	ids := map[int]string{}
	var walk func([]json.RawMessage)
	walk = func(raw []json.RawMessage) {
		for _, r := range raw {
			var p panel
			if err := json.Unmarshal(r, &p); err != nil {
				t.Fatalf("%s: panel: %v", dashboardPath, err)
			}
			if other, dup := ids[p.ID]; dup {
				t.Errorf("%s: panels %q and %q share id %d", dashboardPath, other, p.Title, p.ID)
			}
			ids[p.ID] = p.Title
			if p.Type != "row" && len(p.Targets) == 0 {
				t.Errorf("%s: panel %q has no query", dashboardPath, p.Title)
			}
			for _, tg := range p.Targets {
				if strings.TrimSpace(tg.Expr) == "" {
					t.Errorf("%s: panel %q has an empty query", dashboardPath, p.Title)
				}
				exprs = append(exprs, tg.Expr)
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(v.Query, &q); err != nil {
			var s string
			if json.Unmarshal(v.Query, &s) != nil {
				t.Fatalf("%s: variable %s: query %s", dashboardPath, v.Name, v.Query)
			}
			q.Query = s
		}
		// label_values(metric, label) names a metric.
		if m := regexp.MustCompile(`^label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,`).FindStringSubmatch(q.Query); m != nil {
			exprs = append(exprs, m[1])
		}
	}
	if len(exprs) == 0 {
		t.Fatalf("%s: no queries", dashboardPath)
	}
	return exprs
}

var (
	promqlStrings   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`")
	promqlMatchers  = regexp.MustCompile(`\{[^{}]*\}`)
	promqlRanges    = regexp.MustCompile(`\[[^\[\]]*\]`)
	promqlGrouping  = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)`)
	promqlIdent     = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	promqlVariables = regexp.MustCompile(`\$(?:\{[^}]*\}|[a-zA-Z_][a-zA-Z0-9_]*)`)
	promqlKeywords  = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true,
		"group_right": true, "offset": true, "bool": true, "and": true, "or": true, "unless": true, "atan2": true,
		"inf": true, "nan": true, "Inf": true, "NaN": true}
)

// promqlMetricNames returns the metric names an expression selects: the
// identifiers left once strings, label matchers, ranges, grouping clauses,
// variables, function calls and keywords are taken out.
func promqlMetricNames(expr string) []string {
	s := promqlStrings.ReplaceAllString(expr, `""`)
	s = promqlVariables.ReplaceAllString(s, "")
	for {
		n := promqlMatchers.ReplaceAllString(s, " ")
		n = promqlRanges.ReplaceAllString(n, " ")
		n = promqlGrouping.ReplaceAllString(n, " ")
		if n == s {
			break
		}
		s = n
	}
	var names []string
	for _, loc := range promqlIdent.FindAllStringIndex(s, -1) {
		id := s[loc[0]:loc[1]]
		if promqlKeywords[id] {
			continue
		}
		if loc[0] > 0 && (s[loc[0]-1] >= '0' && s[loc[0]-1] <= '9' || s[loc[0]-1] == '.') {
			continue // the exponent or suffix of a number (1e3, 0.5)
		}
		rest := strings.TrimLeft(s[loc[1]:], " \t\n")
		if strings.HasPrefix(rest, "(") {
			continue // a function
		}
		names = append(names, id)
	}
	return names
}

// TestDashboardMetricNameExtraction: the PromQL scan of the dashboard test
// finds the selected metrics and skips functions, labels, keywords,
// variables and numbers.
func TestDashboardMetricNameExtraction(t *testing.T) {
	for expr, want := range map[string]string{
		`sum by (group) (max by (group, partition) (heimdall_consumer_lag_records{instance=~"$instance"}))`:                              "heimdall_consumer_lag_records",
		`histogram_quantile(0.99, sum by (route, le) (rate(heimdall_http_request_duration_seconds_bucket{a="b(c)"}[$__rate_interval])))`: "heimdall_http_request_duration_seconds_bucket",
		`sum(rate(a_total{code=~"5.."}[5m])) / sum(rate(b_total[1m])) > bool 1e3`:                                                        "a_total b_total",
		`rate(process_cpu_seconds_total[${__rate_interval}]) offset 5m`:                                                                  "process_cpu_seconds_total",
		`go_gc_duration_seconds{quantile="0.5"} * on (instance) group_left (version) go_info`:                                            "go_gc_duration_seconds go_info",
	} {
		if got := strings.Join(promqlMetricNames(expr), " "); got != want {
			t.Errorf("%s: names %q, want %q", expr, got, want)
		}
	}
}

// codeMetricNames returns the metric names Heimdall defines: every string
// constant of the module's non-test Go code that looks like a Heimdall
// metric name, plus what telemetry.NewRegistry registers itself (the Go
// runtime and process collectors).
func codeMetricNames(t *testing.T) map[string]bool {
	t.Helper()
	root, err := devstack.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	nameLike := regexp.MustCompile(`^heimdall_[a-z0-9_]+$`)
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != root && (strings.HasPrefix(n, ".") || n == "vendor" || n == "testdata" || n == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil // a file being edited: its names are looked for in the others
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if v, err := strconv.Unquote(lit.Value); err == nil && nameLike.MatchString(v) {
					names[v] = true
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	mfs, err := telemetry.NewRegistry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	return names
}

// TestDashboardMetricsExist: every metric the dashboard's PromQL selects is
// defined in the code (a histogram's _bucket, _sum and _count series count
// as its name) or exported by the runtime collectors every Heimdall
// registers.
func TestDashboardMetricsExist(t *testing.T) {
	known := codeMetricNames(t)
	for _, must := range []string{kafka.MetricConsumerLag, "heimdall_http_requests_total", "go_goroutines"} {
		if !known[must] {
			t.Fatalf("the code scan misses %s: found %d names", must, len(known))
		}
	}
	used := map[string]bool{}
	for _, e := range dashboardExprs(t) {
		for _, n := range promqlMetricNames(e) {
			used[n] = true
		}
	}
	var missing []string
	for n := range used {
		if known[n] {
			continue
		}
		base := n
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			base = strings.TrimSuffix(base, suf)
		}
		if base != n && known[base] {
			continue
		}
		missing = append(missing, n)
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("%s uses metrics no code defines: %s", dashboardPath, strings.Join(missing, ", "))
	}
	// The panels are there.
	for _, n := range []string{kafka.MetricConsumerLag, kafka.MetricConsumerRecords, "heimdall_http_requests_total",
		"heimdall_http_request_duration_seconds_bucket", "heimdall_enrich_provider_calls_total", "heimdall_enrich_provider_errors_total",
		"heimdall_enrich_provider_breaker_state", "heimdall_enrich_provider_rate_limit_waits_total", "heimdall_enrich_backlog_jobs",
		"go_goroutines"} {
		if !used[n] {
			t.Errorf("%s has no panel on %s", dashboardPath, n)
		}
	}
}

// TestDashboardPromQLParses: every expression of the dashboard, with
// Grafana's variables filled in, is valid PromQL (promtool check rules
// parses it as a recording rule).
func TestDashboardPromQLParses(t *testing.T) {
	tool := promtool(t)
	fill := strings.NewReplacer("$__rate_interval", "5m", "${__rate_interval}", "5m", "$__interval", "1m",
		"${__interval}", "1m", "$__range", "1h", "$instance", ".*", "${instance}", ".*")
	var b strings.Builder
	b.WriteString("groups:\n  - name: heimdall-dashboard\n    rules:\n")
	exprs := dashboardExprs(t)
	for i, e := range slices.Compact(slices.Sorted(slices.Values(exprs))) {
		q, err := json.Marshal(fill.Replace(e))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "      - record: heimdall:dashboard_expr_%d\n        expr: %s\n", i, q)
	}
	path := filepath.Join(t.TempDir(), "dashboard-rules.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tool, "check", "rules", path).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules on the dashboard's queries: %v\n%s\n%s", err, out, b.String())
	}
}
