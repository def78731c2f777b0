package pairedtiming

import (
	"math/rand/v2"
	"testing"
	"time"
)

// noisy is a latency of base plus noise with rare long outliers.
func noisy(base time.Duration) time.Duration {
	d := base + time.Duration(rand.NormFloat64()*float64(200*time.Microsecond))
	if rand.IntN(50) == 0 {
		d += 20 * time.Millisecond
	}
	return d
}

func TestRunTellsAGapFromNoise(t *testing.T) {
	same, err := Run(600, 0, 100*time.Microsecond, func(int) (time.Duration, error) { return noisy(time.Millisecond), nil })
	if err != nil {
		t.Fatal(err)
	}
	if same.Distinguishable() {
		t.Errorf("equal latencies told apart: %v", same)
	}
	gap, err := Run(600, 0, 100*time.Microsecond, func(s int) (time.Duration, error) {
		if s == Probe {
			return noisy(2 * time.Millisecond), nil
		}
		return noisy(time.Millisecond), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !gap.Distinguishable() {
		t.Errorf("a 1 ms gap not seen: %v", gap)
	}
}
