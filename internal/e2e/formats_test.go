package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// post sends an upload and returns the status and decoded JSON body.
func (in *instance) post(body io.Reader, query string, headers map[string]string) (int, map[string]any) {
	in.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "https://"+in.addr+"/v1/ingest?"+query, body)
	req.Header.Set("Authorization", "Bearer "+in.token)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := in.client.Do(req)
	if err != nil {
		in.t.Fatalf("POST: %v", err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &out)
	if out == nil {
		out = map[string]any{"raw": string(b)}
	}
	out["content_type"] = resp.Header.Get("Content-Type")
	return resp.StatusCode, out
}

func sameObsFiles(t *testing.T) map[string][]string {
	root, _ := filepathModuleRoot(t)
	dir := filepath.Join(root, "commands/ingest/testdata/sameobs")
	return map[string][]string{
		"zeek":   {filepath.Join(dir, "conn.log"), filepath.Join(dir, "dns.log"), filepath.Join(dir, "http.log"), filepath.Join(dir, "files.log")},
		"eve":    {filepath.Join(dir, "eve.json")},
		"cef":    {filepath.Join(dir, "events.cef")},
		"csv":    {filepath.Join(dir, "flows.csv")},
		"ndjson": {filepath.Join(dir, "records.ndjson")},
	}
}

// TestSameObservablesThroughGraph: the same observations uploaded as Zeek,
// EVE, CEF, CSV and NDJSON (formats recognised by the server) become the same
// six vertices with the same keys; each source saw exactly those.
func TestSameObservablesThroughGraph(t *testing.T) {
	in := newInstance(t)
	in.serve("serve", nil)
	for name, files := range sameObsFiles(t) {
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			code, out := in.post(bytes.NewReader(b), "source="+name+"&file="+filepath.Base(f), nil)
			if code != http.StatusOK || out["rejected"].(float64) != 0 || out["rows"] != out["accepted"] {
				t.Fatalf("%s %s: %d %v", name, filepath.Base(f), code, out)
			}
		}
	}
	s := in.store()
	in.waitProjected(s, time.Minute)
	ctx := context.Background()
	g, _ := s.ActiveGraph(ctx)
	rows, err := s.Pool().Query(ctx, fmt.Sprintf(`SELECT p.source, string_agg(DISTINCT e.key || ' ' || e.label || ' ' || e.value, ',' ORDER BY e.key || ' ' || e.label || ' ' || e.value)
		FROM %q.provenance p JOIN %q.entity_state e ON e.key = p.record_key WHERE p.event_type = 'entity.observed' GROUP BY p.source`, g, g))
	if err != nil {
		t.Fatal(err)
	}
	bySource := map[string]string{}
	for rows.Next() {
		var src, set string
		if err := rows.Scan(&src, &set); err != nil {
			t.Fatal(err)
		}
		bySource[src] = set
	}
	if len(bySource) != 5 {
		t.Fatalf("sources %v", bySource)
	}
	want := bySource["ndjson"]
	for src, set := range bySource {
		if set != want {
			t.Errorf("%s entities:\n%s\nndjson entities:\n%s", src, strings.ReplaceAll(set, ",", "\n"), strings.ReplaceAll(want, ",", "\n"))
		}
	}
	var n int64
	if err := s.Pool().QueryRow(ctx, fmt.Sprintf(`SELECT count(*) FROM %q.entity_state WHERE first_seen IS NOT NULL`, g)).Scan(&n); err != nil || n != 6 {
		t.Fatalf("%d observed vertices, want 6 (%v)", n, err)
	}
	if v, _, _ := s.Counts(ctx); v != 6 {
		t.Fatalf("%d vertices in the graph, want 6", v)
	}
}

func gzipBytes(b []byte) []byte {
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	_, _ = w.Write(b)
	_ = w.Close()
	return out.Bytes()
}

func zstdBytes(b []byte) []byte {
	var out bytes.Buffer
	w, _ := zstd.NewWriter(&out)
	_, _ = w.Write(b)
	_ = w.Close()
	return out.Bytes()
}

// TestUploadsCompressedAndAdversarial: compressed bodies are read; bombs,
// truncated streams, unknown encodings and formats are whole-request
// problem+json errors with a clear code; row-level trouble is rejects with
// counts that add up.
func TestUploadsCompressedAndAdversarial(t *testing.T) {
	in := newInstance(t)
	in.serve("serve", nil)
	data := flowLines(0, 2000)

	for name, body := range map[string][]byte{"gzip": gzipBytes(data), "zstd": zstdBytes(data)} {
		code, out := in.post(bytes.NewReader(body), "source="+name, nil)
		if code != http.StatusOK || out["accepted"].(float64) != 2000 || out["format"] != "ndjson" {
			t.Fatalf("%s upload: %d %v", name, code, out)
		}
	}
	code, out := in.post(bytes.NewReader(gzipBytes(data)), "source=hdr", map[string]string{"Content-Encoding": "gzip"})
	if code != http.StatusOK {
		t.Fatalf("Content-Encoding gzip: %d %v", code, out)
	}

	// 1 GiB of zeros, compressed: refused on the expansion ratio.
	var bomb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&bomb, gzip.BestCompression)
	chunk := make([]byte, 1<<20)
	for i := 0; i < 1024; i++ {
		_, _ = zw.Write(chunk)
	}
	_ = zw.Close()
	gz := gzipBytes(data)
	for _, tc := range []struct {
		name    string
		body    []byte
		headers map[string]string
		query   string
		status  int
		code    string
	}{
		{"gzip bomb", bomb.Bytes(), nil, "format=ndjson", http.StatusRequestEntityTooLarge, "decompression_bomb"},
		{"gzip bomb, format sniffed", bomb.Bytes(), nil, "", http.StatusUnsupportedMediaType, "unsupported_format"},
		{"truncated gzip", gz[:len(gz)*2/3], nil, "", http.StatusBadRequest, "truncated"},
		{"unknown encoding", data, map[string]string{"Content-Encoding": "br"}, "", http.StatusUnsupportedMediaType, "unsupported_encoding"},
		{"unrecognised format", []byte("just some words\nand more\n"), nil, "", http.StatusUnsupportedMediaType, "unsupported_format"},
		{"unknown format", data, nil, "format=xml", http.StatusUnsupportedMediaType, "unsupported_format"},
	} {
		code, out := in.post(bytes.NewReader(tc.body), tc.query, tc.headers)
		if code != tc.status || out["code"] != tc.code || out["content_type"] != "application/problem+json" {
			t.Errorf("%s: %d %v, want %d %s problem+json", tc.name, code, out, tc.status, tc.code)
		}
		if tc.name == "truncated gzip" {
			r, _ := out["result"].(map[string]any)
			if r == nil || r["rows"].(float64) != r["accepted"].(float64)+r["rejected"].(float64)+r["duplicates"].(float64) {
				t.Errorf("truncated upload: counts missing or not adding up: %v", out)
			}
		}
	}

	// Row-level trouble: an unclosed quote early in a large CSV swallows
	// rows up to the record limit (4 MiB) into one reject, then parsing
	// resumes; invalid UTF-8, duplicate keys and deep nesting in NDJSON.
	var csv bytes.Buffer
	csv.WriteString("src_ip,dst_ip,dst_port\n192.0.2.1,192.0.2.2,443\n\"192.0.2.3,192.0.2.4,80\n")
	n := 250000
	for i := 0; i < n; i++ {
		fmt.Fprintf(&csv, "%s,%s,443\n", srcIP(i), dstIP(i))
	}
	code, out = in.post(&csv, "source=csv", nil)
	if code != http.StatusOK || out["rows"].(float64) != out["accepted"].(float64)+out["rejected"].(float64)+out["duplicates"].(float64) ||
		out["rejected"].(float64) != 1 || out["accepted"].(float64) < 100000 {
		t.Errorf("CSV with an unclosed quote: %d %v", code, out)
	} else if r := out["rejects"].([]any)[0].(map[string]any); r["code"] != "record_too_long" || r["line"].(float64) != 3 {
		t.Errorf("unclosed quote reject: %v", r)
	}
	nd := strings.Join([]string{
		`{"src_ip":"192.0.2.9","dst_ip":"192.0.2.10"}`,
		"{\"src_ip\":\"192.0.2.9\xff\"}",
		`{"src_ip":"192.0.2.9","src_ip":"192.0.2.11"}`,
		strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
	}, "\n")
	code, out = in.post(strings.NewReader(nd), "format=ndjson", nil)
	if code != http.StatusOK || out["accepted"].(float64) != 1 || out["rejected"].(float64) != 3 {
		t.Fatalf("adversarial NDJSON: %d %v", code, out)
	}
	var codes []string
	for _, r := range out["rejects"].([]any) {
		codes = append(codes, r.(map[string]any)["code"].(string))
	}
	sort.Strings(codes)
	if strings.Join(codes, ",") != "duplicate_key,invalid_utf8,not_an_object" && strings.Join(codes, ",") != "duplicate_key,invalid_utf8,too_deep" {
		t.Errorf("reject codes %v", codes)
	}
}

// TestAsyncBatchAndCLI: an asynchronous upload answers 202 and its status
// ends done with the counts; the CLI does the same with -async and prints a
// summary.
func TestAsyncBatchAndCLI(t *testing.T) {
	in := newInstance(t)
	in.serve("serve", nil)
	code, out := in.post(bytes.NewReader(flowLines(0, 3000)), "source=async", map[string]string{"Prefer": "respond-async", "Idempotency-Key": "async-batch-0001"})
	statusURL, _ := out["status_url"].(string)
	if code != http.StatusAccepted || statusURL != "/v1/batches/"+out["batch_id"].(string) {
		t.Fatalf("async upload: %d %v", code, out)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		var st map[string]any
		if c := in.get(statusURL, &st); c != http.StatusOK {
			t.Fatalf("status: %d", c)
		}
		if st["state"] == "done" {
			r := st["result"].(map[string]any)
			if r["accepted"].(float64) != 3000 || r["rows"].(float64) != 3000 {
				t.Fatalf("async result %v", st)
			}
			break
		}
		if st["state"] == "failed" || time.Now().After(deadline) {
			t.Fatalf("async batch: %v", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Another caller, allowed to ingest, cannot see it.
	other := in.st.TokenForUser(t, "carol")
	req, _ := http.NewRequest(http.MethodGet, "https://"+in.addr+statusURL, nil)
	req.Header.Set("Authorization", "Bearer "+other)
	if resp, err := in.client.Do(req); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("another caller's view of the batch: %v %v", resp, err)
	}

	dir := t.TempDir()
	file := filepath.Join(dir, "flows.ndjson.gz")
	if err := os.WriteFile(file, gzipBytes(flowLines(5000, 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, async := range []string{"-async", "-quiet"} {
		cmd := exec.Command(heimdallBinary(t), "ingest", async, "-source", "cli", file)
		cmd.Env = append(os.Environ(), "HEIMDALL_API_URL=https://localhost"+in.addr[strings.LastIndex(in.addr, ":"):],
			"HEIMDALL_CLIENT_ID=heimdall-cli", "HEIMDALL_CLIENT_SECRET="+in.st.ClientSecret(t, "heimdall-cli"),
			"HEIMDALL_OIDC_ISSUER="+in.st.OIDCIssuer, "HEIMDALL_CA_FILE="+in.st.CAFile)
		b, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(b), "1000 rows: 1000 accepted, 0 rejected, 0 duplicates") {
			t.Fatalf("heimdall ingest %s: %v\n%s", async, err, b)
		}
	}
}
