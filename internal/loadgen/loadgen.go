package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config describes one run.
type Config struct {
	// Client sends the requests; nil means http.DefaultClient. Its
	// transport should keep at least Concurrency idle connections per host
	// (http.Transport.MaxIdleConnsPerHost), or connections are re-dialled.
	Client *http.Client
	// Token, when set, is sent as "Authorization: Bearer <Token>".
	Token string
	// Concurrency is the number of requests in flight (default 1).
	Concurrency int
	// Duration stops the run once it has passed (requests in flight are
	// completed); Requests stops it after that many requests. Set one or
	// both: the run ends at whichever comes first.
	Duration time.Duration
	Requests int
	// Next returns the URL of the i-th request (i from 0). It is called
	// from all workers at once and must be safe for concurrent use.
	Next func(i int) string
	// Header, when set, is added to every request.
	Header http.Header
}

// Result summarises a run.
type Result struct {
	// Requests counts the requests sent and completed, with or without a
	// response.
	Requests int
	// Errors counts the requests that got no (complete) response.
	Errors int
	// FirstError is the first of them, for diagnosis.
	FirstError error
	// Non2xx counts the responses whose status was not 2xx, and Status
	// every response by status code.
	Non2xx int
	Status map[int]int
	// Latencies of the responses (errors excluded), nearest rank.
	P50, P90, P99, Max, Mean time.Duration
	// Elapsed is the wall time of the run, Throughput Requests/Elapsed in
	// requests per second.
	Elapsed    time.Duration
	Throughput float64
}

// String renders the result on one line.
func (r Result) String() string {
	var codes []string
	for _, c := range slices.Sorted(maps.Keys(r.Status)) {
		codes = append(codes, fmt.Sprintf("%d:%d", c, r.Status[c]))
	}
	return fmt.Sprintf("%d requests in %s (%.1f req/s), %d errors, %d non-2xx [%s]; p50 %s p90 %s p99 %s max %s mean %s",
		r.Requests, r.Elapsed.Round(time.Millisecond), r.Throughput, r.Errors, r.Non2xx, strings.Join(codes, " "),
		round(r.P50), round(r.P90), round(r.P99), round(r.Max), round(r.Mean))
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// worker holds what one worker recorded.
type worker struct {
	latencies []time.Duration
	status    map[int]int
	errors    int
	firstErr  error
}

// Run sends requests as Config describes and returns what it measured. It
// returns an error for an unusable Config, and ctx's error (with the result
// so far) when ctx ends before the run does; requests cut off by ctx do not
// count.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Next == nil {
		return Result{}, errors.New("loadgen: Config.Next is required")
	}
	if cfg.Duration <= 0 && cfg.Requests <= 0 {
		return Result{}, errors.New("loadgen: set Config.Duration or Config.Requests")
	}
	client := cfg.Client
	if client == nil {
		client = http.DefaultClient
	}
	conc := max(cfg.Concurrency, 1)
	if cfg.Requests > 0 {
		conc = min(conc, cfg.Requests)
	}
	var next atomic.Int64
	start := time.Now()
	var deadline time.Time
	if cfg.Duration > 0 {
		deadline = start.Add(cfg.Duration)
	}
	workers := make([]worker, conc)
	var wg sync.WaitGroup
	for w := range workers {
		wk := &workers[w]
		wk.status = map[int]int{}
		if cfg.Requests > 0 {
			wk.latencies = make([]time.Duration, 0, cfg.Requests/conc+1)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if !deadline.IsZero() && !time.Now().Before(deadline) {
					return
				}
				i := int(next.Add(1) - 1)
				if cfg.Requests > 0 && i >= cfg.Requests {
					return
				}
				code, lat, err := do(ctx, client, cfg, i)
				switch {
				case err != nil && ctx.Err() != nil:
					return // cut off: not the server's doing
				case err != nil:
					wk.errors++
					if wk.firstErr == nil {
						wk.firstErr = err
					}
				default:
					wk.status[code]++
					wk.latencies = append(wk.latencies, lat)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)

	res := Result{Status: map[int]int{}, Elapsed: elapsed}
	var all []time.Duration
	for i := range workers {
		wk := &workers[i]
		all = append(all, wk.latencies...)
		res.Errors += wk.errors
		if res.FirstError == nil {
			res.FirstError = wk.firstErr
		}
		for c, n := range wk.status {
			res.Status[c] += n
			if c < 200 || c > 299 {
				res.Non2xx += n
			}
		}
	}
	res.Requests = len(all) + res.Errors
	if elapsed > 0 {
		res.Throughput = float64(res.Requests) / elapsed.Seconds()
	}
	slices.Sort(all)
	res.P50, res.P90, res.P99 = Percentile(all, 50), Percentile(all, 90), Percentile(all, 99)
	if len(all) > 0 {
		res.Max = all[len(all)-1]
		var sum time.Duration
		for _, d := range all {
			sum += d
		}
		res.Mean = sum / time.Duration(len(all))
	}
	return res, ctx.Err()
}

// do sends request i and reads its body to the end.
func do(ctx context.Context, client *http.Client, cfg Config, i int) (int, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, cfg.Next(i), nil)
	if err != nil {
		return 0, 0, err
	}
	for k, vs := range cfg.Header {
		req.Header[k] = vs
	}
	if cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+cfg.Token)
	}
	t0 := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	lat := time.Since(t0)
	if err != nil {
		return 0, 0, fmt.Errorf("reading the response body of %s: %w", req.URL.Path, err)
	}
	return resp.StatusCode, lat, nil
}

// Percentile returns the nearest-rank q-th percentile (0 < q <= 100) of
// sorted: the smallest element at least q% of the elements are at or below.
// It returns 0 for an empty slice.
func Percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(q * float64(len(sorted)) / 100)) // q*n first: exact for whole q
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}
