package e2e

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heimdallhub/heimdall/internal/config/devstack"
)

// rawConn opens a TLS connection to the instance for requests written by
// hand (slow headers and bodies).
func (in *instance) rawConn(t *testing.T) *tls.Conn {
	t.Helper()
	cfg := in.st.TLSConfig()
	cfg.NextProtos = []string{"http/1.1"}
	c, err := tls.Dial("tcp", in.addr, cfg)
	if err != nil {
		t.Fatalf("dialling the API: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// trickle writes b one byte every gap until the server closes the
// connection (or b is sent); it reports when its last byte went out.
func trickle(c *tls.Conn, b []byte, gap time.Duration) <-chan time.Time {
	last := make(chan time.Time, 1)
	go func() {
		var at time.Time
		defer func() { last <- at }()
		for i := range b {
			if _, err := c.Write(b[i : i+1]); err != nil {
				return
			}
			at = time.Now()
			time.Sleep(gap)
		}
	}()
	return last
}

// readUntilClosed reads the connection until the server closes it, within
// bound; it returns what was read.
func readUntilClosed(t *testing.T, c *tls.Conn, bound time.Duration) []byte {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(bound))
	var buf bytes.Buffer
	_, err := io.Copy(&buf, c)
	var ne interface{ Timeout() bool }
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server did not close the connection within %v (read %q)", bound, buf.String())
	}
	return buf.Bytes()
}

// TestEdgeSlowClients: a body that keeps sending (a byte every 300 ms,
// seconds in total) is read to its end; one that stalls for longer than
// the idle timeout is cut, with or without a token, and so are headers
// that take longer than the header timeout.
func TestEdgeSlowClients(t *testing.T) {
	in := newInstance(t)
	in.serve("serve", map[string]string{"HEIMDALL_HTTP_BODY_IDLE_TIMEOUT": "1s", "HEIMDALL_HTTP_READ_HEADER_TIMEOUT": "3s"})
	const bound = 60 * time.Second // generous: the machine is loaded

	t.Run("steady body is not cut", func(t *testing.T) {
		body := []byte(`{"src_ip":"192.0.2.10","dst_ip":"192.0.2.11"}` + "\n")
		c := in.rawConn(t)
		fmt.Fprintf(c, "POST /v1/ingest?source=slow HTTP/1.1\r\nHost: heimdall\r\nAuthorization: Bearer %s\r\nContent-Type: application/x-ndjson\r\nContent-Length: %d\r\n\r\n", in.token, len(body))
		start := time.Now()
		<-trickle(c, body, 300*time.Millisecond)
		_ = c.SetReadDeadline(time.Now().Add(bound))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("no answer to a steady upload: %v\n%s", err, in.logs("serve"))
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("steady upload of %v: %d %s", time.Since(start), resp.StatusCode, b)
		}
		if time.Since(start) < 5*time.Second {
			t.Fatalf("the upload took only %v, not longer than the idle timeout", time.Since(start))
		}
	})

	stalled := func(t *testing.T, auth string) {
		c := in.rawConn(t)
		fmt.Fprintf(c, "POST /v1/ingest?source=stalled HTTP/1.1\r\nHost: heimdall\r\n%sContent-Type: application/x-ndjson\r\nContent-Length: 100000\r\n\r\n", auth)
		start := time.Now()
		last := trickle(c, bytes.Repeat([]byte("x"), 1000), 2500*time.Millisecond)
		got := readUntilClosed(t, c, bound)
		t.Logf("closed after %v; the server sent %q", time.Since(start), firstLine(got))
		_ = c.Close()
		<-last
	}
	t.Run("stalled body is cut", func(t *testing.T) { stalled(t, "Authorization: Bearer "+in.token+"\r\n") })
	t.Run("stalled body without a token is cut", func(t *testing.T) { stalled(t, "") })

	t.Run("slow headers are cut", func(t *testing.T) {
		c := in.rawConn(t)
		fmt.Fprint(c, "GET /healthz HTTP/1.1\r\nHost: heimdall\r\n")
		last := trickle(c, []byte("X-Slow: "+strings.Repeat("y", 200)), 500*time.Millisecond)
		start := time.Now()
		got := readUntilClosed(t, c, bound)
		if strings.Contains(string(got), "200 OK") {
			t.Fatalf("headers sent over minutes were answered: %q", got)
		}
		t.Logf("closed after %v", time.Since(start))
		_ = c.Close()
		<-last
	})
}

func firstLine(b []byte) string {
	line, _, _ := strings.Cut(string(b), "\r\n")
	return line
}

// TestEdgeHeaderLimit: headers beyond HEIMDALL_HTTP_MAX_HEADER_BYTES get
// 431; headers within it are served. Every answer carries HSTS and nosniff,
// /v1 answers no-store.
func TestEdgeHeaderLimit(t *testing.T) {
	in := newInstance(t)
	in.serve("serve", nil)
	send := func(path string, size int) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, "https://"+in.addr+path, nil)
		req.Header.Set("Authorization", "Bearer "+in.token)
		req.Header.Set("X-Padding", strings.Repeat("p", size))
		resp, err := in.client.Do(req)
		if err != nil {
			t.Fatalf("GET %s with %d header bytes: %v", path, size, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if resp := send("/healthz", 40<<10); resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("40 KiB of headers: %d, want 431", resp.StatusCode)
	}
	resp := send("/healthz", 16<<10)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("16 KiB of headers: %d", resp.StatusCode)
	}
	if resp.Header.Get("Strict-Transport-Security") == "" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("security headers missing: %v", resp.Header)
	}
	for _, path := range []string{"/v1/entities/ipv4-addr--00000000-0000-5000-8000-000000000000", "/v1/openapi.json", "/v1/nowhere"} {
		resp := send(path, 10)
		if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Strict-Transport-Security") == "" {
			t.Errorf("%s (%d): headers %v", path, resp.StatusCode, resp.Header)
		}
	}
}

// httpSeries counts the series of the HTTP metrics in a scrape.
func httpSeries(t *testing.T, scrape []byte) (int, []string) {
	t.Helper()
	n := 0
	var methods []string
	for name, mf := range parseMetrics(t, scrape) {
		if name != "heimdall_http_requests_total" && name != "heimdall_http_request_duration_seconds" {
			continue
		}
		n += len(mf.GetMetric())
		for _, m := range mf.GetMetric() {
			methods = append(methods, metricLabels(m)["method"])
		}
	}
	return n, methods
}

// TestEdgeMetricLabelsBounded: 1,000 made-up methods (and raw paths) add
// no series to the HTTP metrics.
func TestEdgeMetricLabelsBounded(t *testing.T) {
	in := newInstance(t)
	in.serve("serve", nil)
	send := func(method, path string) {
		req, err := http.NewRequest(method, "https://"+in.addr+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+in.token)
		resp, err := in.client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	round := func(i int) {
		m := "MADEUP" + strconv.Itoa(i)
		send(m, "/healthz")
		send(m, "/v1/entities/made-up-"+strconv.Itoa(i))
		send(http.MethodGet, "/made-up/"+strconv.Itoa(i))
	}
	round(0)
	in.scrape()
	before, _ := httpSeries(t, in.scrape())
	for i := 1; i <= 1000; i++ {
		round(i)
	}
	after, methods := httpSeries(t, in.scrape())
	if after != before {
		t.Fatalf("HTTP metric series: %d before, %d after 1,000 made-up methods", before, after)
	}
	for _, m := range methods {
		if strings.HasPrefix(m, "MADEUP") {
			t.Fatalf("a made-up method is a label value: %s", m)
		}
	}
}

// TestEdgeRateLimit: past its burst a caller gets 429 with Retry-After on
// decrypt, and its refused decryptions are not audited: the audit topic
// stops growing. Other callers are not affected.
func TestEdgeRateLimit(t *testing.T) {
	in := newInstance(t)
	in.serve("serve", map[string]string{"HEIMDALL_RATE_DECRYPT_PER_SECOND": "0.01", "HEIMDALL_RATE_DECRYPT_BURST": "3",
		"HEIMDALL_RATE_AUDIT_PER_SECOND": "0.01", "HEIMDALL_RATE_AUDIT_BURST": "2"})
	auditTopic := in.env["HEIMDALL_KAFKA_AUDIT_TOPIC"]
	bob := in.st.TokenForUser(t, devstack.UserBob) // no decrypt permission: every attempt is a denied, audited one
	item := decryptItem{Record: "ipv4-addr--00000000-0000-5000-8000-000000000000", Field: "value"}
	for i := range 3 {
		if code, _ := in.decrypt(bob, item); code != http.StatusForbidden {
			t.Fatalf("attempt %d within the burst: %d", i+1, code)
		}
	}
	audited := len(in.topicRecords(auditTopic))
	if audited != 3 {
		t.Fatalf("%d audit records after 3 denied attempts", audited)
	}
	body, _ := json.Marshal(map[string]any{"purpose": "flood", "items": []decryptItem{item}})
	for i := range 50 {
		req, _ := http.NewRequest(http.MethodPost, "https://"+in.addr+"/v1/decrypt", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+bob)
		req.Header.Set("Content-Type", "application/json")
		resp, err := in.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		retry, err := strconv.Atoi(resp.Header.Get("Retry-After"))
		if resp.StatusCode != http.StatusTooManyRequests || err != nil || retry < 1 {
			t.Fatalf("attempt %d past the burst: %d, Retry-After %q: %s", i+4, resp.StatusCode, resp.Header.Get("Retry-After"), b)
		}
	}
	time.Sleep(3 * time.Second) // anything written late would be in the topic by now
	if n := len(in.topicRecords(auditTopic)); n != audited {
		t.Fatalf("the audit topic grew from %d to %d records under refused requests", audited, n)
	}
	// Another caller has its own bucket.
	if code, _ := in.decrypt(in.token, item); code == http.StatusTooManyRequests {
		t.Fatal("another caller was limited")
	}
	// The audit route has its own limit.
	codes := []int{}
	for range 3 {
		codes = append(codes, in.get("/v1/audit", nil))
	}
	if codes[0] != http.StatusOK || codes[1] != http.StatusOK || codes[2] != http.StatusTooManyRequests {
		t.Fatalf("audit reads past the burst of 2: %v", codes)
	}
}

// TestEdgeProblemsNeverEcho: canary strings sent in paths, query
// parameters (format, profile, source, cursor, values), headers, methods,
// bodies and tokens appear in no error body.
func TestEdgeProblemsNeverEcho(t *testing.T) {
	in := newInstance(t)
	in.serve("serve", nil)
	canary := "zqcanary" + randomSuffix()
	type call struct {
		method, path, body string
		headers            map[string]string
	}
	q := url.QueryEscape
	calls := []call{
		{method: "GET", path: "/" + canary},
		{method: "GET", path: "/v1/" + canary},
		{method: "GET", path: "/v1/entities/" + canary},
		{method: "GET", path: "/v1/entities/" + canary + "/neighbours?depth=" + canary + "&label=" + canary},
		{method: "GET", path: "/v1/entities?ip=" + canary},
		{method: "GET", path: "/v1/entities?domain=" + q(canary+"..x")},
		{method: "GET", path: "/v1/similar?domain=" + q("-"+canary+"-..") + "&limit=" + canary},
		{method: "GET", path: "/v1/paths?from=" + canary + "&to=" + canary},
		{method: "GET", path: "/v1/correlations?source=" + canary + "&min_sources=" + canary},
		{method: "GET", path: "/v1/entities/" + canary + "/timeline?before=" + canary},
		{method: "GET", path: "/v1/entities/" + canary + "/cooccurring?window=" + canary},
		{method: "GET", path: "/v1/audit?actor=" + q(canary+" x") + "&since=" + canary},
		{method: "GET", path: "/v1/audit?before=" + canary},
		{method: "GET", path: "/v1/batches/" + canary},
		{method: "GET", path: "/v1/sync/events?cursor=" + canary},
		{method: "POST", path: "/v1/ingest?format=" + canary, body: "{}\n"},
		{method: "POST", path: "/v1/ingest?profile=" + canary, body: "{}\n"},
		{method: "POST", path: "/v1/ingest?source=" + q(canary+"<>"), body: "{}\n"},
		{method: "POST", path: "/v1/ingest?delimiter=" + canary, body: "{}\n"},
		{method: "POST", path: "/v1/ingest", body: "{}\n", headers: map[string]string{"Content-Encoding": canary}},
		{method: "POST", path: "/v1/ingest", body: "{}\n", headers: map[string]string{"Idempotency-Key": canary + "!"}},
		{method: "POST", path: "/v1/ingest?format=zeek", body: "#separator \\x09\n#fields\t" + canary + "\t" + canary + "\n"},
		{method: "POST", path: "/v1/ingest?format=csv", body: canary + "," + canary + "\n1,2\n"},
		{method: "POST", path: "/v1/ingest", body: canary, headers: map[string]string{"Content-Encoding": "gzip"}},
		{method: "POST", path: "/v1/cypher", body: `{"query": "MATCH (n:` + canary + `) RETURN ` + canary + `x", "columns": ["a"]}`},
		{method: "POST", path: "/v1/cypher", body: `{"query": "MATCH (n) RETURN n.value /* ` + canary + `", "columns": ["a"]}`},
		{method: "POST", path: "/v1/cypher", body: `{"` + canary + `": 1}`},
		{method: "POST", path: "/v1/decrypt", body: `{"purpose": "` + canary + `", "items": [{"record": "` + canary + `"}]}`},
		{method: "POST", path: "/v1/decrypt", body: `{"` + canary + `": 1}`},
		{method: "PATCH", path: "/v1/records/" + canary + "/classification", body: `{"level": "` + canary + `", "reason": "` + canary + `"}`},
		{method: "POST", path: "/v1/retractions", body: `{"scope": "` + canary + `", "id": "` + canary + `"}`},
		{method: "POST", path: "/v1/enrichments", body: `{"keys": ["` + canary + `"], "providers": ["` + canary + `"]}`},
		{method: "POST", path: "/v1/enrichments", body: `{"keys": ["ipv4-addr--00000000-0000-5000-8000-000000000000"], "providers": ["` + canary + `"]}`},
		{method: strings.ToUpper(canary), path: "/v1/entities/" + canary},
		{method: "GET", path: "/v1/entities/" + canary, headers: map[string]string{"Authorization": "Bearer " + canary}},
		{method: "GET", path: "/v1/entities/" + canary, headers: map[string]string{"Authorization": canary}},
	}
	errorsSeen := 0
	for _, c := range calls {
		req, err := http.NewRequest(c.method, "https://"+in.addr+c.path+sep(c.path)+"q="+canary, strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+in.token)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Request-ID", canary+"-request")
		req.Header.Set("X-Canary", canary)
		req.Header.Set("User-Agent", canary)
		for k, v := range c.headers {
			req.Header.Set(k, v)
		}
		resp, err := in.client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", c.method, c.path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode < 400 {
			continue
		}
		errorsSeen++
		if bytes.Contains(bytes.ToLower(b), []byte(canary)) {
			t.Errorf("%s %s: %d echoes the canary: %s", c.method, c.path, resp.StatusCode, b)
		}
		for k, vs := range resp.Header {
			if strings.Contains(strings.ToLower(strings.Join(vs, " ")), canary) {
				t.Errorf("%s %s: header %s echoes the canary", c.method, c.path, k)
			}
		}
	}
	if errorsSeen < len(calls)/2 {
		t.Fatalf("only %d of %d calls were refused; the test no longer exercises the error paths", errorsSeen, len(calls))
	}
}

func sep(path string) string {
	if strings.Contains(path, "?") {
		return "&"
	}
	return "?"
}
