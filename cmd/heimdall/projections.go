package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/internal/auditstore"
	"github.com/heimdallhub/heimdall/internal/config"
	"github.com/heimdallhub/heimdall/internal/graphstore"
	"github.com/heimdallhub/heimdall/internal/kafka"
	"github.com/heimdallhub/heimdall/internal/schemaregistry"
	"github.com/heimdallhub/heimdall/internal/telemetry"
	"github.com/heimdallhub/heimdall/internal/tlsconf"
	"github.com/heimdallhub/heimdall/projections/audit"
	"github.com/heimdallhub/heimdall/projections/graph"
)

const projectionsUsage = "heimdall projections rebuild [-fresh] [-rate N] [-quiet] [graph|vectors|audit] | status"

// rebuildLockWait is how long a rebuild waits for another one of its kind
// (or the connection of a killed one) to let go of the rebuild lock.
const rebuildLockWait = 30 * time.Second

func runProjections(ctx context.Context, args []string, stdout, stderr io.Writer, lookup env) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: %s", errUsage, projectionsUsage)
	}
	switch args[0] {
	case "rebuild":
		return runRebuild(ctx, args[1:], stdout, stderr, lookup)
	case "status":
		return runProjectionsStatus(ctx, stdout, stderr, lookup)
	}
	return fmt.Errorf("%w: unknown projections command %q", errUsage, args[0])
}

// openStore opens the graph store with the projector's configuration.
func openStore(ctx context.Context, lookup env, stderr io.Writer) (config.Config, *graphstore.Store, kafka.Config, error) {
	cfg, err := loadConfig(lookup, []string{config.ComponentProjector})
	if err != nil {
		return cfg, nil, kafka.Config{}, err
	}
	log := telemetry.NewLogger(stderr, cfg.LogLevel)
	clientTLS, err := tlsconf.Client(cfg.TLS.CAFile)
	if err != nil {
		return cfg, nil, kafka.Config{}, err
	}
	store, err := graphstore.Open(ctx, cfg.Postgres.URL, graphstore.WithTLSConfig(clientTLS), graphstore.WithLogger(log))
	if err != nil {
		return cfg, nil, kafka.Config{}, fmt.Errorf("opening the graph store: %w", err)
	}
	kc, err := kafkaConfig(cfg.Kafka.Brokers, cfg.Kafka.Auth, clientTLS, "heimdall-rebuild-"+cfg.PeerID, log)
	if err != nil {
		store.Close()
		return cfg, nil, kafka.Config{}, err
	}
	return cfg, store, kc, nil
}

// rebuildFlags are the flags every rebuild takes.
type rebuildFlags struct {
	fresh bool
	quiet bool
	rate  float64
}

// runRebuild rebuilds one projection: graph (the default), vectors or
// audit. Flags may come before or after the projection's name.
func runRebuild(ctx context.Context, args []string, stdout, stderr io.Writer, lookup env) error {
	fs := flag.NewFlagSet("projections rebuild", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f rebuildFlags
	fs.BoolVar(&f.fresh, "fresh", false, "drop an interrupted rebuild of the projection and start anew instead of resuming it")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress output")
	fs.Float64Var(&f.rate, "rate", 0, "at most N records (vectors: vertices) per second (0: unlimited)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	what := "graph"
	if fs.NArg() > 0 {
		what = fs.Arg(0)
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			return errUsage
		}
		if fs.NArg() > 0 {
			return fmt.Errorf("%w: %s", errUsage, projectionsUsage)
		}
	}
	if f.rate < 0 {
		return fmt.Errorf("%w: -rate must not be negative", errUsage)
	}
	switch what {
	case "graph":
		return rebuildGraph(ctx, f, stdout, stderr, lookup)
	case "vectors":
		return rebuildVectors(ctx, f, stdout, stderr, lookup)
	case "audit":
		return rebuildAudit(ctx, f, stdout, stderr, lookup)
	}
	return fmt.Errorf("%w: unknown projection %q (graph, vectors or audit)", errUsage, what)
}

// batchFor bounds a batch so that a rate limit is kept smoothly.
func batchFor(batch int, rate float64) int {
	if batch <= 0 {
		batch = 5000
	}
	if rate > 0 {
		batch = min(batch, max(1, int(rate/4)))
	}
	return batch
}

// rebuildGraph replays the event log into a graph generation while the
// active one keeps serving, then switches readers over. It resumes the
// generation an interrupted rebuild left in state building, unless -fresh.
func rebuildGraph(ctx context.Context, f rebuildFlags, stdout, stderr io.Writer, lookup env) error {
	cfg, store, kc, err := openStore(ctx, lookup, stderr)
	if err != nil {
		return err
	}
	defer store.Close()
	codec, err := schemaregistry.NewCodec(ctx, cfg.SchemaRegistry, cfg.TLS.CAFile, nil)
	if err != nil {
		return err
	}
	release, err := store.LockRebuild(ctx, graphstore.RebuildGraph, rebuildLockWait)
	if err != nil {
		return err
	}
	defer release()
	gen, resumed, dropped, err := store.ResumeRebuild(ctx, f.fresh)
	if err != nil {
		return fmt.Errorf("starting the graph rebuild: %w", err)
	}
	for _, id := range dropped {
		fmt.Fprintf(stdout, "dropped the interrupted rebuild of generation %d\n", id)
	}
	topic := cfg.Kafka.EventsTopic
	done, total, err := logPosition(ctx, kc, topic, func() (map[int32]int64, error) { return store.StoredOffsets(ctx, gen, topic) })
	if err != nil {
		return fmt.Errorf("reading the progress of generation %d: %w", gen.ID, err)
	}
	if resumed {
		fmt.Fprintf(stdout, "resuming generation %d (graph %s) at %d/%d records\n", gen.ID, gen.Graph, done, total)
	} else {
		fmt.Fprintf(stdout, "rebuilding into generation %d (graph %s): %d records\n", gen.ID, gen.Graph, total)
	}
	p, err := graph.New(store, codec, telemetry.NewLogger(stderr, cfg.LogLevel), graph.WithGeneration(gen))
	if err != nil {
		return err
	}
	start := time.Now()
	label := fmt.Sprintf("generation %d", gen.ID)
	if err := replayLog(ctx, kc, topic, batchFor(cfg.Project.BatchSize, f.rate), p, f, stdout, label,
		func() (map[int32]int64, error) { return store.StoredOffsets(ctx, gen, topic) }); err != nil {
		return fmt.Errorf("replaying the log into generation %d: %w", gen.ID, err)
	}
	if err := store.Activate(ctx, gen); err != nil {
		return fmt.Errorf("activating generation %d: %w", gen.ID, err)
	}
	v, e, err := store.Counts(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "generation %d active: %d vertices, %d edges, rebuilt in %s\n", gen.ID, v, e, time.Since(start).Round(time.Millisecond))
	return nil
}

// replayLog feeds topic into h from h's stored offsets to the end, twice:
// to the end offsets seen at the start, then to those seen after that, so
// that a switch leaves as little as possible for the live projector to
// catch up. stored reads the offsets h has stored (for the progress).
func replayLog(ctx context.Context, kc kafka.Config, topic string, batch int, h kafka.Handler, f rebuildFlags,
	stdout io.Writer, label string, stored func() (map[int32]int64, error)) error {
	thr := newThrottle(f.rate)
	var prog *rebuildProgress
	for pass := 0; pass < 2; pass++ {
		done, total, err := logPosition(ctx, kc, topic, stored)
		if err != nil {
			if prog != nil {
				prog.end()
			}
			return err
		}
		if prog == nil {
			prog = startProgress(stdout, f.quiet, label, "records", done, total)
		} else {
			prog.set(done, total)
		}
		_, err = kafka.ReadRange(ctx, kc, topic, batch, countingHandler{Handler: h, batch: func(ctx context.Context, n int) {
			prog.add(int64(n))
			thr.wait(ctx, n)
		}}, nil)
		if err != nil {
			prog.end()
			return err
		}
	}
	prog.end()
	return nil
}

// errBeyondEnd is returned when a rebuild to resume has stored offsets
// beyond the end of the log: the topic was recreated since.
var errBeyondEnd = errors.New("its stored offsets are beyond the end of the log (was the topic recreated?); use -fresh")

// logPosition returns how many records of topic lie below the stored
// offsets, and how many it holds; errBeyondEnd if an offset is beyond the
// end of its partition.
func logPosition(ctx context.Context, kc kafka.Config, topic string, stored func() (map[int32]int64, error)) (done, total int64, err error) {
	ends, err := endOffsets(ctx, kc, topic)
	if err != nil {
		return 0, 0, err
	}
	offs, err := stored()
	if err != nil {
		return 0, 0, err
	}
	for p, off := range offs {
		if end, ok := ends[p]; !ok || off > end {
			return 0, 0, fmt.Errorf("partition %s/%d at offset %d: %w", topic, p, off, errBeyondEnd)
		}
	}
	for p, end := range ends {
		total += end
		done += min(offs[p], end)
	}
	return done, total, nil
}

// endOffsets returns the end offset of every partition of topic.
func endOffsets(ctx context.Context, kc kafka.Config, topic string) (map[int32]int64, error) {
	cl, err := kafka.NewClient(kc)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	return kafka.EndOffsets(ctx, cl, topic)
}

// countingHandler calls batch after each batch it handled.
type countingHandler struct {
	kafka.Handler
	batch func(ctx context.Context, n int)
}

func (h countingHandler) Handle(ctx context.Context, records []events.LogRecord) error {
	if err := h.Handler.Handle(ctx, records); err != nil {
		return err
	}
	h.batch(ctx, len(records))
	return nil
}

// rebuildVectors recomputes the look-alike vectors of the active generation
// into a new table and swaps it in; readers keep using the old table until
// then. An interrupted rebuild resumes after the last vertex key it stored,
// unless -fresh.
func rebuildVectors(ctx context.Context, f rebuildFlags, stdout, stderr io.Writer, lookup env) error {
	_, store, _, err := openStore(ctx, lookup, stderr)
	if err != nil {
		return err
	}
	defer store.Close()
	release, err := store.LockRebuild(ctx, graphstore.RebuildVectors, rebuildLockWait)
	if err != nil {
		return err
	}
	defer release()
	vr, err := store.BeginVectorRebuild(ctx, f.fresh)
	if err != nil {
		return fmt.Errorf("starting the vector rebuild: %w", err)
	}
	gen := vr.Generation
	switch {
	case vr.Swapped:
		fmt.Fprintf(stdout, "finishing the vector rebuild of generation %d (graph %s): the new vectors are in place\n", gen.ID, gen.Graph)
	case vr.Resumed:
		fmt.Fprintf(stdout, "resuming the vector rebuild of generation %d (graph %s, model %s) at %d/%d vertices\n",
			gen.ID, gen.Graph, vr.Model, vr.Done, vr.Total)
	default:
		fmt.Fprintf(stdout, "rebuilding the vectors of generation %d (graph %s, model %s): %d domain and URL vertices\n",
			gen.ID, gen.Graph, vr.Model, vr.Total)
	}
	start := time.Now()
	thr := newThrottle(f.rate)
	prog := startProgress(stdout, f.quiet || vr.Swapped, fmt.Sprintf("vectors of generation %d", gen.ID), "vertices", vr.Done, vr.Total)
	last := vr.Done
	err = store.RebuildVectors(ctx, vr, batchFor(1000, f.rate), func(done, total int64) {
		prog.set(done, total)
		thr.wait(ctx, int(done-last))
		last = done
	})
	prog.end()
	if err != nil {
		return fmt.Errorf("rebuilding the vectors of generation %d: %w", gen.ID, err)
	}
	sw, err := store.SwapVectors(ctx, vr)
	if errors.Is(err, graph.ErrGenerationChanged) {
		return fmt.Errorf("generation %d was replaced while its vectors were rebuilt (the new generation has its own): %w", gen.ID, err)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "vectors of generation %d swapped in: %d vectors (%d added and %d removed for vertices created or retracted meanwhile), rebuilt in %s\n",
		gen.ID, sw.Vectors, sw.Added+sw.LateAdded, sw.Removed+sw.LateRemoved, time.Since(start).Round(time.Millisecond))
	return nil
}

// rebuildAudit replays the audit topic into new audit trail tables while
// the live ones keep serving, then swaps them in (auditstore's
// FinishRebuild). An interrupted rebuild resumes from the offsets stored
// with its entries, unless -fresh.
func rebuildAudit(ctx context.Context, f rebuildFlags, stdout, stderr io.Writer, lookup env) error {
	cfg, store, kc, err := openStore(ctx, lookup, stderr)
	if err != nil {
		return err
	}
	defer store.Close()
	codec, err := schemaregistry.NewCodec(ctx, cfg.SchemaRegistry, cfg.TLS.CAFile, nil)
	if err != nil {
		return err
	}
	log := telemetry.NewLogger(stderr, cfg.LogLevel)
	trail, err := auditstore.New(ctx, store.Pool())
	if err != nil {
		return err
	}
	release, err := trail.LockRebuild(ctx, rebuildLockWait)
	if err != nil {
		return err
	}
	defer release()
	resumed, err := trail.BeginRebuild(ctx, f.fresh)
	if err != nil {
		return err
	}
	topic := cfg.Kafka.AuditTopic
	stored := func() (map[int32]int64, error) { return trail.TopicOffsets(ctx, topic, true) }
	done, total, err := logPosition(ctx, kc, topic, stored)
	if err != nil {
		return fmt.Errorf("reading the progress of the audit trail rebuild: %w", err)
	}
	if resumed {
		fmt.Fprintf(stdout, "resuming the audit trail rebuild (topic %s) at %d/%d records\n", topic, done, total)
	} else {
		fmt.Fprintf(stdout, "rebuilding the audit trail from topic %s: %d records\n", topic, total)
	}
	p, err := audit.New(trail.RebuildTarget(), codec, log)
	if err != nil {
		return err
	}
	start := time.Now()
	batch := batchFor(cfg.Project.BatchSize, f.rate)
	if err := replayLog(ctx, kc, topic, batch, p, f, stdout, "audit trail", stored); err != nil {
		return fmt.Errorf("replaying %s into the new audit trail: %w", topic, err)
	}
	st, err := trail.FinishRebuild(ctx, topic, func(ctx context.Context, target audit.Store) error {
		cp, err := audit.New(target, codec, log)
		if err != nil {
			return err
		}
		_, err = kafka.ReadRange(ctx, kc, topic, batchFor(cfg.Project.BatchSize, 0), cp, nil)
		return err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "audit trail swapped in: %d entries (%d caught up during the swap, %d merged from the old trail), offsets %s, rebuilt in %s\n",
		st.Entries, st.CaughtUp, st.Merged, formatOffsets(st.Offsets), time.Since(start).Round(time.Millisecond))
	return nil
}

// throttle keeps a rate of items per second (none if the rate is 0).
type throttle struct {
	rate  float64
	start time.Time
	n     int64
}

func newThrottle(rate float64) *throttle { return &throttle{rate: rate, start: time.Now()} }

// wait counts n more items and sleeps until they are due.
func (t *throttle) wait(ctx context.Context, n int) {
	if t.rate <= 0 {
		return
	}
	t.n += int64(n)
	due := t.start.Add(time.Duration(float64(t.n) / t.rate * float64(time.Second)))
	if d := time.Until(due); d > 0 {
		select {
		case <-ctx.Done():
		case <-time.After(d):
		}
	}
}

// rebuildProgress prints a rebuild's progress every second: items done of
// the total, the rate of this run and the time left at that rate.
type rebuildProgress struct {
	w           io.Writer
	label, unit string
	start       time.Time
	first       int64 // done when this run began
	done, total atomic.Int64
	stop        chan struct{}
	wg          sync.WaitGroup
	once        sync.Once
}

func startProgress(w io.Writer, quiet bool, label, unit string, done, total int64) *rebuildProgress {
	p := &rebuildProgress{w: w, label: label, unit: unit, start: time.Now(), first: done, stop: make(chan struct{})}
	p.set(done, total)
	if quiet {
		close(p.stop)
		p.once.Do(func() {})
		return p
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				fmt.Fprintln(p.w, p.line())
			}
		}
	}()
	return p
}

func (p *rebuildProgress) set(done, total int64) {
	p.done.Store(done)
	p.total.Store(max(total, done))
}

func (p *rebuildProgress) add(n int64) {
	d := p.done.Add(n)
	if d > p.total.Load() {
		p.total.Store(d)
	}
}

func (p *rebuildProgress) line() string {
	done, total := p.done.Load(), p.total.Load()
	rate := float64(done-p.first) / max(time.Since(p.start).Seconds(), 1e-3)
	eta := "unknown"
	if rate > 0 {
		eta = (time.Duration(float64(total-done) / rate * float64(time.Second))).Round(time.Second).String()
	}
	return fmt.Sprintf("  %s: %d/%d %s (%.1f%%), %.0f %s/s, ETA %s",
		p.label, done, total, p.unit, 100*float64(done)/float64(max(total, 1)), rate, p.unit, eta)
}

// end stops the reports, printing the final state once.
func (p *rebuildProgress) end() {
	p.once.Do(func() {
		close(p.stop)
		p.wg.Wait()
		fmt.Fprintln(p.w, p.line())
	})
}

// formatOffsets renders offsets by partition as p0=n,p1=m.
func formatOffsets(m map[int32]int64) string {
	ps := make([]int32, 0, len(m))
	for p := range m {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	s := ""
	for i, p := range ps {
		if i > 0 {
			s += ","
		}
		s += fmt.Sprintf("p%d=%d", p, m[p])
	}
	if s == "" {
		return "none"
	}
	return s
}

// progressOf renders stored offsets against end offsets as done/total (%);
// ends may be nil (Kafka unreachable).
func progressOf(offs, ends map[int32]int64) string {
	var done, total int64
	for p, o := range offs {
		if ends != nil {
			o = min(o, ends[p])
		}
		done += o
	}
	if ends == nil {
		return fmt.Sprintf("%d/?", done)
	}
	for _, e := range ends {
		total += e
	}
	return fmt.Sprintf("%d/%d (%.1f%%)", done, total, 100*float64(done)/float64(max(total, 1)))
}

func runProjectionsStatus(ctx context.Context, stdout, stderr io.Writer, lookup env) error {
	cfg, store, kc, err := openStore(ctx, lookup, stderr)
	if err != nil {
		return err
	}
	defer store.Close()
	log := telemetry.NewLogger(stderr, cfg.LogLevel)
	ends := func(topic string) map[int32]int64 {
		ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		e, err := endOffsets(ctx, kc, topic)
		if err != nil {
			log.Warn("end offsets unavailable", "topic", topic, "err", err)
			return nil
		}
		return e
	}
	gens, err := store.Generations(ctx)
	if err != nil {
		return err
	}
	eventEnds := ends(cfg.Kafka.EventsTopic)
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "GENERATION\tGRAPH\tSTATE\tVERTICES\tEDGES\tRECORDS (OFFSETS/END)")
	for _, g := range gens {
		v, e, err := store.GenerationCounts(ctx, g)
		if err != nil {
			return err
		}
		offs, err := store.StoredOffsets(ctx, g, cfg.Kafka.EventsTopic)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%d\t%d\t%s\n", g.ID, g.Graph, g.State, v, e, progressOf(offs, eventEnds))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	for _, g := range gens {
		if g.State != graph.GenerationBuilding {
			continue
		}
		offs, err := store.StoredOffsets(ctx, g, cfg.Kafka.EventsTopic)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "generation %d is building: offsets %s of end offsets %s (heimdall projections rebuild resumes it)\n",
			g.ID, formatOffsets(offs), formatOffsets(eventEnds))
	}
	vr, err := store.VectorRebuildStatus(ctx)
	if err != nil {
		return err
	}
	if vr != nil {
		state := fmt.Sprintf("%d/%d vertices scanned", vr.Done, vr.Total)
		if vr.Swapped {
			state = "swapped, catch-up pending"
		}
		fmt.Fprintf(stdout, "vector rebuild of generation %d (model %s, started %s): %s (heimdall projections rebuild vectors resumes it)\n",
			vr.Generation.ID, vr.Model, vr.StartedAt.UTC().Format(time.RFC3339), state)
	}
	trail, err := auditstore.New(ctx, store.Pool())
	if err != nil {
		return err
	}
	topic := cfg.Kafka.AuditTopic
	auditEnds := ends(topic)
	live, err := trail.TopicOffsets(ctx, topic, false)
	if err != nil {
		return err
	}
	n, err := trail.Count(ctx, false)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "audit trail (topic %s): %d entries, records %s, offsets %s of end offsets %s\n",
		topic, n, progressOf(live, auditEnds), formatOffsets(live), formatOffsets(auditEnds))
	building, err := trail.RebuildInProgress(ctx)
	if err != nil {
		return err
	}
	if building {
		next, err := trail.TopicOffsets(ctx, topic, true)
		if err != nil {
			return err
		}
		n, err := trail.Count(ctx, true)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "audit trail rebuild: %d entries, records %s, offsets %s (heimdall projections rebuild audit resumes it)\n",
			n, progressOf(next, auditEnds), formatOffsets(next))
	}
	return nil
}
