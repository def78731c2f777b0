package main

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// progressBar reports an upload's progress on a terminal line.
type progressBar struct {
	mu    sync.Mutex
	w     io.Writer
	name  string
	total int64
	sent  int64
	start time.Time
	last  time.Time
	ended bool
}

func newProgressBar(w io.Writer, name string, total int64) *progressBar {
	return &progressBar{w: w, name: name, total: total, start: time.Now()}
}

// Write counts bytes as they are sent (used through io.TeeReader).
func (p *progressBar) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sent += int64(len(b))
	if time.Since(p.last) >= 500*time.Millisecond {
		p.last = time.Now()
		p.draw()
	}
	return len(b), nil
}

func (p *progressBar) draw() {
	const width = 30
	frac := 1.0
	if p.total > 0 {
		frac = float64(p.sent) / float64(p.total)
	}
	filled := int(frac * width)
	if filled > width {
		filled = width
	}
	bar := make([]byte, width)
	for i := range bar {
		bar[i] = ' '
		if i < filled {
			bar[i] = '='
		}
	}
	rate := float64(p.sent) / time.Since(p.start).Seconds() / 1e6
	fmt.Fprintf(p.w, "\r%s [%s] %5.1f%% %.1f/%.1f MB %.1f MB/s", p.name, bar, 100*frac, float64(p.sent)/1e6, float64(p.total)/1e6, rate)
}

// done draws the final state once and ends the line.
func (p *progressBar) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ended {
		return
	}
	p.ended = true
	p.draw()
	fmt.Fprintln(p.w)
}
