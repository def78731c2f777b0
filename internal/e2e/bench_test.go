package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heimdallhub/heimdall/internal/format/formatgen"
)

// peakRSS returns the process's peak resident set size in bytes (VmHWM).
func peakRSS(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return -1
}

// BenchmarkPipeline measures the spine with the real stack, end to end:
//
//   - upload: one NDJSON request through the HTTPS API into Kafka (acks=all),
//     by a process running only api+ingest: records/s, MB/s, peak RSS;
//   - project: a projector process alone draining that backlog from Kafka
//     into the AGE graph: vertices+edges/s.
//
// Run it with -benchtime=1x (make bench); HEIMDALL_BENCH_RECORDS sets the size.
func BenchmarkPipeline(b *testing.B) {
	n := 200000
	if s := os.Getenv("HEIMDALL_BENCH_RECORDS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	data := flowLines(0, n)
	for i := 0; i < b.N; i++ {
		in := newInstance(b)
		api := in.serve("api", map[string]string{"HEIMDALL_COMPONENTS": "api,ingest"})
		start := time.Now()
		code, res, err := in.ingest(data, "source=bench", nil)
		upload := time.Since(start)
		if err != nil || code != http.StatusOK || res.Accepted != int64(n) {
			b.Fatalf("upload: %d %v %+v", code, err, res)
		}
		rss := peakRSS(api.cmd.Process.Pid)

		s := in.store()
		start = time.Now()
		proj := in.start("projector", nil, "projector")
		in.waitProjected(s, 30*time.Minute)
		project := time.Since(start)
		v, e, err := s.Counts(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		projRSS := peakRSS(proj.cmd.Process.Pid)

		b.ReportMetric(float64(n)/upload.Seconds(), "upload_records/s")
		b.ReportMetric(float64(len(data))/upload.Seconds()/1e6, "upload_MB/s")
		b.ReportMetric(float64(res.Events)/upload.Seconds(), "upload_events/s")
		b.ReportMetric(float64(rss)/(1<<20), "api_peak_rss_MiB")
		b.ReportMetric(float64(v+e)/project.Seconds(), "project_elements/s")
		b.ReportMetric(float64(projRSS)/(1<<20), "projector_peak_rss_MiB")
		b.Logf("%d records (%.1f MB, %d events) uploaded in %s; %d vertices + %d edges projected in %s",
			n, float64(len(data))/1e6, res.Events, upload.Round(time.Millisecond), v, e, project.Round(time.Millisecond))
	}
}

// dumpReader generates an NDJSON firewall export of about size bytes: each
// record is ~300 bytes with a connection (3 events) and fields no profile maps.
type dumpReader struct {
	size, sent int64
	i          int
	buf        []byte
}

func (d *dumpReader) Read(p []byte) (int, error) {
	for len(d.buf) == 0 {
		if d.sent >= d.size {
			return 0, io.EOF
		}
		i := d.i
		d.i++
		d.buf = fmt.Appendf(d.buf[:0], `{"ts":"2026-11-%02dT%02d:%02d:%02d.%06dZ","src_ip":"%s","dst_ip":"%s","dst_port":%d,"proto":"tcp","action":"allow","rule":"allow-outbound-web-%d","bytes_in":%d,"bytes_out":%d,"packets":%d,"app":"ssl","device":"fw-%02d.example.net","session_end_reason":"tcp-fin","category":"business-and-economy"}`+"\n",
			1+i%28, i%24, i%60, (i/60)%60, i%1000000, srcIP(i%5000000), dstIP(i%1000000), 1+i%65535, i%97, i*7%100000, i*3%100000, i%500, i%16)
		d.sent += int64(len(d.buf))
	}
	n := copy(p, d.buf)
	d.buf = d.buf[n:]
	return n, nil
}

// BenchmarkLargeDump streams a generated multi-gigabyte NDJSON dump through
// the API into Kafka (api+ingest process only) and reports throughput and
// the process's peak RSS, which must stay flat whatever the dump's size.
// HEIMDALL_BENCH_DUMP_BYTES sets the size (default 2 GiB).
func BenchmarkLargeDump(b *testing.B) {
	size := int64(2 << 30)
	if s := os.Getenv("HEIMDALL_BENCH_DUMP_BYTES"); s != "" {
		size, _ = strconv.ParseInt(s, 10, 64)
	}
	for i := 0; i < b.N; i++ {
		in := newInstance(b)
		api := in.serve("api", map[string]string{"HEIMDALL_COMPONENTS": "api,ingest", "HEIMDALL_INGEST_MAX_BODY_BYTES": strconv.FormatInt(2*size, 10)})
		client := &http.Client{Transport: in.client.Transport}
		req, _ := http.NewRequest(http.MethodPost, "https://"+in.addr+"/v1/ingest?format=ndjson&source=dump", &dumpReader{size: size})
		req.Header.Set("Authorization", "Bearer "+in.token)
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var res ingestResult
		_ = json.NewDecoder(resp.Body).Decode(&res)
		resp.Body.Close()
		d := time.Since(start)
		if resp.StatusCode != http.StatusOK || res.Rows == 0 || res.Rows != res.Accepted+res.Rejected+res.Duplicates {
			b.Fatalf("dump upload: %s %+v\n%s", resp.Status, res, in.logs("api"))
		}
		rss := peakRSS(api.cmd.Process.Pid)
		b.ReportMetric(float64(size)/d.Seconds()/1e6, "MB/s")
		b.ReportMetric(float64(res.Rows)/d.Seconds(), "records/s")
		b.ReportMetric(float64(res.Events)/d.Seconds(), "events/s")
		b.ReportMetric(float64(rss)/(1<<20), "peak_rss_MiB")
		b.Logf("%.2f GB, %d records (%d accepted, %d duplicates), %d events in %s; peak RSS %.1f MiB",
			float64(size)/1e9, res.Rows, res.Accepted, res.Duplicates, res.Events, d.Round(time.Second), float64(rss)/(1<<20))
	}
}

// BenchmarkUploadFormats uploads the same connection records in each
// format through the API into Kafka (api+ingest process): records/s and MB/s
// per format, end to end.
func BenchmarkUploadFormats(b *testing.B) {
	const n = 50000
	inputs := formatgen.Connections(n)
	for i := 0; i < b.N; i++ {
		in := newInstance(b)
		in.serve("api", map[string]string{"HEIMDALL_COMPONENTS": "api,ingest"})
		in.ingest(inputs["ndjson"][:1000], "source=warmup", nil) // producer id and metadata
		for _, name := range formatgen.Formats {
			data := inputs[name]
			start := time.Now()
			code, res, err := in.ingest(data, "source=bench-"+name, nil)
			d := time.Since(start)
			if err != nil || code != http.StatusOK || res.Accepted != n {
				b.Fatalf("%s: %d %v %+v", name, code, err, res.Rejects)
			}
			b.ReportMetric(float64(n)/d.Seconds(), name+"_records/s")
			b.ReportMetric(float64(len(data))/d.Seconds()/1e6, name+"_MB/s")
		}
	}
}

// personalFlowPolicy marks both addresses of a flow personal: the client's
// pseudonymised, the server's encrypted.
const personalFlowPolicy = `
version: "2026-11-28.1"
levels: [UNCLASSIFIED, CONFIDENTIAL, SECRET, TOP SECRET]
default: {level: TOP SECRET, action: drop}
profiles:
  "*":
    fields:
      src_ip:   {level: SECRET, action: pseudonymise, kind: ip}
      dst_ip:   {level: SECRET, action: encrypt}
      dst_port: {level: UNCLASSIFIED, action: keep}
      proto:    {level: UNCLASSIFIED, action: keep}
`

// BenchmarkPipelinePII uploads the same flow records twice through the
// API into Kafka (api+ingest process): with the built-in policy, which
// keeps addresses, and with both addresses personal (pseudonymised and
// encrypted, and keyed by pseudonyms). The difference is the PII policy's
// share of end-to-end ingest. HEIMDALL_BENCH_RECORDS sets the size.
func BenchmarkPipelinePII(b *testing.B) {
	n := 100000
	if s := os.Getenv("HEIMDALL_BENCH_RECORDS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	data := flowLines(0, n)
	policyFile := filepath.Join(b.TempDir(), "policy.yaml")
	if err := os.WriteFile(policyFile, []byte(personalFlowPolicy), 0o600); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		rate := bestUploadRates(b, data, n, "builtin", "personal", func(in *instance, variant string) map[string]string {
			if variant == "personal" {
				return map[string]string{"HEIMDALL_PII_POLICY": policyFile}
			}
			return nil
		})
		b.ReportMetric(rate["builtin"], "keep_records/s")
		b.ReportMetric(rate["personal"], "personal_records/s")
		b.ReportMetric(100*(1-rate["personal"]/rate["builtin"]), "policy_share_%")
	}
}

// BenchmarkKafkaAuthCost measures what SASL/SCRAM costs ingest: the same
// upload through the API into Kafka (acks=all), once authenticating with
// SCRAM-SHA-512 on the SASL_SSL listener and once with a client
// certificate alone on the broker's mutual-TLS listener (TLS 1.3 both, so
// SCRAM's share is the difference), interleaved twice, best run of each.
func BenchmarkKafkaAuthCost(b *testing.B) {
	n := 100000
	if s := os.Getenv("HEIMDALL_BENCH_RECORDS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	data := flowLines(0, n)
	for i := 0; i < b.N; i++ {
		rate := bestUploadRates(b, data, n, "scram", "mtls", func(in *instance, variant string) map[string]string {
			if variant == "mtls" {
				return in.st.KafkaMTLS(b)
			}
			return nil
		})
		b.ReportMetric(rate["scram"], "scram_records/s")
		b.ReportMetric(rate["mtls"], "mtls_records/s")
		b.ReportMetric(rate["scram"]/rate["mtls"], "scram/mtls")
		b.Logf("%d records: SCRAM-SHA-512 %.0f records/s, mTLS %.0f records/s (ratio %.3f)", n, rate["scram"], rate["mtls"], rate["scram"]/rate["mtls"])
	}
}

// bestUploadRates uploads data (n records) through the API into Kafka with
// variants a and b of an instance (env gives a variant's extra
// environment), each twice, interleaved a b b a, and returns the best
// records/s of each: on a machine shared with Kafka and Postgres,
// whichever upload comes second pays for the broker's work on the first.
func bestUploadRates(tb *testing.B, data []byte, n int, a, b string, env func(*instance, string) map[string]string) map[string]float64 {
	tb.Helper()
	rate := map[string]float64{}
	for _, variant := range []string{a, b, b, a} {
		in := newInstance(tb)
		extra := map[string]string{"HEIMDALL_COMPONENTS": "api,ingest"}
		for k, v := range env(in, variant) {
			extra[k] = v
		}
		in.serve("api", extra)
		start := time.Now()
		code, res, err := in.ingest(data, "source=bench", nil)
		d := time.Since(start)
		if err != nil || code != http.StatusOK || res.Accepted != int64(n) {
			tb.Fatalf("%s upload: %d %v %+v", variant, code, err, res)
		}
		rate[variant] = max(rate[variant], float64(n)/d.Seconds())
		in.stopAll()
	}
	return rate
}
