package e2e

import (
	"context"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
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
