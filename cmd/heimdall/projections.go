package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/internal/config"
	"github.com/heimdallhub/heimdall/internal/graphstore"
	"github.com/heimdallhub/heimdall/internal/kafka"
	"github.com/heimdallhub/heimdall/internal/telemetry"
	"github.com/heimdallhub/heimdall/internal/tlsconf"
	"github.com/heimdallhub/heimdall/projections/graph"
)

func runProjections(ctx context.Context, args []string, stdout, stderr io.Writer, lookup env) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: heimdall projections rebuild|status", errUsage)
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
	kc := kafka.Config{Brokers: cfg.Kafka.Brokers, TLS: clientTLS, ClientID: "heimdall-rebuild-" + cfg.PeerID, Logger: log}
	return cfg, store, kc, nil
}

// runRebuild replays the event log into a fresh graph generation while the
// active one keeps serving, catches up, then switches readers over.
func runRebuild(ctx context.Context, args []string, stdout, stderr io.Writer, lookup env) error {
	fs := flag.NewFlagSet("projections rebuild", flag.ContinueOnError)
	fs.SetOutput(stderr)
	quiet := fs.Bool("quiet", false, "no progress output")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	cfg, store, kc, err := openStore(ctx, lookup, stderr)
	if err != nil {
		return err
	}
	defer store.Close()
	codec, err := events.NewCodec()
	if err != nil {
		return err
	}
	gen, err := store.BeginRebuild(ctx)
	if err != nil {
		return fmt.Errorf("starting the rebuild: %w", err)
	}
	fmt.Fprintf(stdout, "rebuilding into generation %d (graph %s)\n", gen.ID, gen.Graph)
	p, err := graph.New(store, codec, telemetry.NewLogger(stderr, cfg.LogLevel), graph.WithGeneration(gen))
	if err != nil {
		return err
	}
	start := time.Now()
	last := time.Time{}
	progress := func(done, total int64) {
		if *quiet || time.Since(last) < time.Second {
			return
		}
		last = time.Now()
		fmt.Fprintf(stdout, "  %d/%d records (%.0f%%)\n", done, total, 100*float64(done)/float64(max(total, 1)))
	}
	// Replay to the end offsets seen at the start, then once more to the
	// end seen after that, so the switch leaves as little as possible for
	// the live projector to catch up.
	for pass := 0; pass < 2; pass++ {
		if _, err := kafka.ReadRange(ctx, kc, cfg.Kafka.EventsTopic, cfg.Project.BatchSize, p, progress); err != nil {
			return fmt.Errorf("replaying the log into generation %d: %w", gen.ID, err)
		}
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

func runProjectionsStatus(ctx context.Context, stdout, stderr io.Writer, lookup env) error {
	_, store, _, err := openStore(ctx, lookup, stderr)
	if err != nil {
		return err
	}
	defer store.Close()
	gens, err := store.Generations(ctx)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "GENERATION\tGRAPH\tSTATE\tVERTICES\tEDGES")
	for _, g := range gens {
		v, e, err := store.GenerationCounts(ctx, g)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%d\t%d\n", g.ID, g.Graph, g.State, v, e)
	}
	return w.Flush()
}
