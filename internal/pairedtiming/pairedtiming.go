// Package pairedtiming tells whether one kind of request takes measurably
// longer than another, robustly enough to run on a loaded machine: each
// round sends a probe (say, a record the caller may not see) and two
// references of the same kind (records that do not exist) in random order,
// and the median of probe−reference is compared with the median of
// reference−reference, the noise floor. Medians and their standard errors
// (from the median absolute deviation) ignore the outliers of scheduling and
// garbage collection; interleaving cancels drift.
package pairedtiming

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// Subjects of a round.
const (
	Probe = iota // the request under suspicion
	RefA         // a reference
	RefB         // another reference (the noise baseline)
)

// Result is a comparison. Durations are in nanoseconds.
type Result struct {
	Rounds int
	// MedianProbe and MedianRef are the median latencies.
	MedianProbe, MedianRef float64
	// Diff is the median of probe−RefA, Noise the median of RefB−RefA;
	// DiffSE and NoiseSE their standard errors.
	Diff, DiffSE, Noise, NoiseSE float64
	// Tolerance is the largest |Diff−Noise| taken for noise: four
	// combined standard errors, at least the floor given to Run.
	Tolerance float64
	// ProbeSlower is the share of rounds where the probe took longer than
	// RefA; RefSlower the share where RefB did.
	ProbeSlower, RefSlower float64
}

// Distinguishable reports whether the probe's latency differs from the
// references' by more than the noise.
func (r Result) Distinguishable() bool { return math.Abs(r.Diff-r.Noise) > r.Tolerance }

func (r Result) String() string {
	ms := func(ns float64) string { return fmt.Sprintf("%.3f ms", ns/1e6) }
	return fmt.Sprintf("%d rounds; median probe %s, reference %s; median probe−reference %s (±%s), reference−reference %s (±%s), tolerance %s; probe slower in %.0f%% of rounds, reference slower than reference in %.0f%%",
		r.Rounds, ms(r.MedianProbe), ms(r.MedianRef), ms(r.Diff), ms(r.DiffSE), ms(r.Noise), ms(r.NoiseSE), ms(r.Tolerance),
		100*r.ProbeSlower, 100*r.RefSlower)
}

// Run runs warmup+rounds rounds; call sends one request to subject (Probe,
// RefA or RefB) and returns how long it took. Warm-up rounds are not
// counted.
func Run(rounds, warmup int, floor time.Duration, call func(subject int) (time.Duration, error)) (Result, error) {
	if rounds < 10 {
		return Result{}, fmt.Errorf("pairedtiming: %d rounds are too few", rounds)
	}
	var probe, refA, refB []float64
	for i := 0; i < warmup+rounds; i++ {
		var d [3]time.Duration
		for _, s := range rand.Perm(3) {
			took, err := call(s)
			if err != nil {
				return Result{}, fmt.Errorf("round %d, subject %d: %w", i, s, err)
			}
			d[s] = took
		}
		if i >= warmup {
			probe, refA, refB = append(probe, float64(d[Probe])), append(refA, float64(d[RefA])), append(refB, float64(d[RefB]))
		}
	}
	r := Result{Rounds: rounds, MedianProbe: median(probe), MedianRef: median(refA)}
	r.Diff, r.DiffSE = medianDiff(probe, refA)
	r.Noise, r.NoiseSE = medianDiff(refB, refA)
	r.Tolerance = math.Max(float64(floor), 4*math.Hypot(r.DiffSE, r.NoiseSE))
	r.ProbeSlower, r.RefSlower = slower(probe, refA), slower(refB, refA)
	return r, nil
}

// medianDiff is the median of a[i]−b[i] and its standard error, estimated
// from the median absolute deviation.
func medianDiff(a, b []float64) (m, se float64) {
	d := make([]float64, len(a))
	for i := range a {
		d[i] = a[i] - b[i]
	}
	m = median(d)
	dev := make([]float64, len(d))
	for i, v := range d {
		dev[i] = math.Abs(v - m)
	}
	sigma := 1.4826 * median(dev) // the standard deviation, were d normal
	return m, 1.2533 * sigma / math.Sqrt(float64(len(d)))
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// slower is the share of rounds where a[i] > b[i].
func slower(a, b []float64) float64 {
	n := 0
	for i := range a {
		if a[i] > b[i] {
			n++
		}
	}
	return float64(n) / float64(len(a))
}
