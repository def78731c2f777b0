package loadgen

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func TestPercentile(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = ms(i + 1)
	}
	ten := hundred[:10]
	for _, tc := range []struct {
		name   string
		sorted []time.Duration
		q      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one", []time.Duration{ms(7)}, 99, ms(7)},
		{"p50 of 100", hundred, 50, ms(50)},
		{"p90 of 100", hundred, 90, ms(90)},
		{"p99 of 100", hundred, 99, ms(99)},
		{"p100 of 100", hundred, 100, ms(100)},
		{"p99.9 of 100", hundred, 99.9, ms(100)},
		{"p1 of 100", hundred, 1, ms(1)},
		{"p50 of 10", ten, 50, ms(5)},
		{"p55 of 10", ten, 55, ms(6)},
		{"p99 of 10", ten, 99, ms(10)},
		{"p0 clamps to the minimum", ten, 0, ms(1)},
	} {
		if got := Percentile(tc.sorted, tc.q); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, got, tc.want)
		}
	}
}

// server answers /?i=N by N's last digit: 1 → 404, 3 → 500, otherwise 200,
// after sleeping d milliseconds if the query names d; it wants the token.
func server(t *testing.T, token string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if d, err := strconv.Atoi(r.URL.Query().Get("d")); err == nil {
			select {
			case <-time.After(ms(d)):
			case <-r.Context().Done():
				return
			}
		}
		i, _ := strconv.Atoi(r.URL.Query().Get("i"))
		switch i % 10 {
		case 1:
			w.WriteHeader(http.StatusNotFound)
		case 3:
			w.WriteHeader(http.StatusInternalServerError)
		}
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// closedURL is the URL of a server that is no longer listening.
func closedURL() string {
	srv := httptest.NewServer(http.NotFoundHandler())
	u := srv.URL
	srv.Close()
	return u
}

func TestRunCountsStatusesAndErrors(t *testing.T) {
	srv, hits := server(t, "tok")
	dead := closedURL()
	res, err := Run(context.Background(), Config{
		Client: srv.Client(), Token: "tok", Concurrency: 4, Requests: 100,
		Next: func(i int) string {
			if i%10 == 7 {
				return dead + "/?i=" + strconv.Itoa(i)
			}
			return srv.URL + "/?i=" + strconv.Itoa(i)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 100 || res.Errors != 10 || res.Non2xx != 20 ||
		res.Status[200] != 70 || res.Status[404] != 10 || res.Status[500] != 10 || len(res.Status) != 3 {
		t.Fatalf("counts: %s", res)
	}
	if res.FirstError == nil {
		t.Error("no first error recorded")
	}
	if hits.Load() != 90 {
		t.Errorf("server saw %d requests, want 90", hits.Load())
	}
	if res.Throughput <= 0 || res.Elapsed <= 0 || res.P50 <= 0 || res.Max < res.P99 || res.P99 < res.P90 || res.P90 < res.P50 {
		t.Errorf("implausible figures: %s", res)
	}
}

func TestRunWithoutTokenSendsNoAuthorization(t *testing.T) {
	srv, _ := server(t, "tok")
	res, err := Run(context.Background(), Config{Client: srv.Client(), Requests: 5,
		Next: func(int) string { return srv.URL + "/?i=0" }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status[http.StatusUnauthorized] != 5 || res.Non2xx != 5 {
		t.Fatalf("without a token: %s", res)
	}
}

// TestRunLatencyPercentiles: 2 of 100 requests take 300ms, the rest none:
// p50 and p90 are fast, p99 (the 99th of 100) and max are slow.
func TestRunLatencyPercentiles(t *testing.T) {
	srv, _ := server(t, "tok")
	res, err := Run(context.Background(), Config{
		Client: srv.Client(), Token: "tok", Concurrency: 4, Requests: 100,
		Next: func(i int) string {
			if i == 10 || i == 60 {
				return srv.URL + "/?i=0&d=300"
			}
			return srv.URL + "/?i=0"
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 100 || res.Errors != 0 || res.Status[200] != 100 {
		t.Fatalf("counts: %s", res)
	}
	if res.P50 >= ms(100) || res.P90 >= ms(100) {
		t.Errorf("p50/p90 include the slow requests: %s", res)
	}
	if res.P99 < ms(300) || res.Max < ms(300) || res.Max > ms(3000) {
		t.Errorf("p99/max miss the slow requests: %s", res)
	}
	if res.Mean < ms(6) { // 600ms over 100 requests at least
		t.Errorf("mean %s below 6ms", res.Mean)
	}
}

// TestRunClosedLoop: with 2 workers and every request taking 50ms, 10
// requests take about 250ms: never more than 2 are in flight.
func TestRunClosedLoop(t *testing.T) {
	var inFlight, peak atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(ms(50))
		inFlight.Add(-1)
	}))
	defer srv.Close()
	res, err := Run(context.Background(), Config{Client: srv.Client(), Concurrency: 2, Requests: 10,
		Next: func(int) string { return srv.URL }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 10 || peak.Load() != 2 || res.Elapsed < ms(250) {
		t.Fatalf("peak %d in flight, %s", peak.Load(), res)
	}
	if res.P50 < ms(50) {
		t.Errorf("p50 %s below the server's 50ms", res.P50)
	}
}

func TestRunDuration(t *testing.T) {
	srv, _ := server(t, "tok")
	res, err := Run(context.Background(), Config{Client: srv.Client(), Token: "tok", Concurrency: 3, Duration: ms(300),
		Next: func(int) string { return srv.URL + "/?i=0&d=5" }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Elapsed < ms(300) || res.Elapsed > ms(2000) || res.Requests < 10 || res.Errors != 0 {
		t.Fatalf("duration run: %s", res)
	}
	want := float64(res.Requests) / res.Elapsed.Seconds()
	if res.Throughput < want*0.999 || res.Throughput > want*1.001 {
		t.Errorf("throughput %.2f, want %.2f", res.Throughput, want)
	}
}

// TestRunRequestsBeforeDuration: the run ends at whichever limit comes first.
func TestRunRequestsBeforeDuration(t *testing.T) {
	srv, _ := server(t, "tok")
	res, err := Run(context.Background(), Config{Client: srv.Client(), Token: "tok", Concurrency: 8, Duration: time.Minute, Requests: 3,
		Next: func(int) string { return srv.URL + "/?i=0" }})
	if err != nil || res.Requests != 3 || res.Elapsed > 10*time.Second {
		t.Fatalf("%v %s", err, res)
	}
}

func TestRunCancelled(t *testing.T) {
	srv, _ := server(t, "tok")
	ctx, cancel := context.WithTimeout(context.Background(), ms(200))
	defer cancel()
	res, err := Run(ctx, Config{Client: srv.Client(), Token: "tok", Concurrency: 2, Duration: time.Minute,
		Next: func(int) string { return srv.URL + "/?i=0&d=10000" }})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want the context's", err)
	}
	if res.Errors != 0 || res.Requests != 0 {
		t.Errorf("requests cut off by the context were counted: %s", res)
	}
}

func TestRunConfigErrors(t *testing.T) {
	if _, err := Run(context.Background(), Config{Requests: 1}); err == nil {
		t.Error("no error without Next")
	}
	if _, err := Run(context.Background(), Config{Next: func(int) string { return "" }}); err == nil {
		t.Error("no error without Duration or Requests")
	}
}

func TestRunBadURLIsAnError(t *testing.T) {
	res, err := Run(context.Background(), Config{Requests: 2, Next: func(int) string { return "://bad" }})
	if err != nil || res.Errors != 2 || res.FirstError == nil {
		t.Fatalf("%v %s", err, res)
	}
}
