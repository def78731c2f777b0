package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/heimdallhub/heimdall/commands/enrich"
	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/internal/config"
	"github.com/heimdallhub/heimdall/internal/enrichment/providers"
	"github.com/heimdallhub/heimdall/internal/enrichstore"
	"github.com/heimdallhub/heimdall/internal/graphstore"
	"github.com/heimdallhub/heimdall/internal/kafka"
	"github.com/heimdallhub/heimdall/internal/telemetry"
	"github.com/heimdallhub/heimdall/internal/tlsconf"
)

// enricherGroup is the enrichment worker's consumer group for an event log.
// Keep it stable: offsets live in Postgres, but tooling tracks lag by it.
func enricherGroup(eventsTopic string) string { return "heimdall.enricher." + eventsTopic }

// wireEnricher builds the providers and the enrichment worker.
func wireEnricher(ctx context.Context, b *built, cfg config.Config, codec *events.Codec, reg prometheus.Registerer, admin *kgo.Client, log *slog.Logger) error {
	file, err := providers.Load(cfg.Enrich.ProvidersFile)
	if err != nil {
		return fmt.Errorf("HEIMDALL_ENRICH_PROVIDERS: %w", err)
	}
	built, err := providers.Build(ctx, file, providers.Options{Lookup: os.LookupEnv, Logger: log, Registerer: reg})
	if err != nil {
		return fmt.Errorf("HEIMDALL_ENRICH_PROVIDERS: %w", err)
	}
	b.closers = append(b.closers, func() {
		for _, p := range built {
			p.Close()
		}
	})
	store, err := enrichstore.New(ctx, b.store.Pool())
	if err != nil {
		return err
	}
	metrics, err := enrich.NewMetrics(reg)
	if err != nil {
		return err
	}
	specs := make([]enrich.ProviderSpec, len(built))
	for i, p := range built {
		specs[i] = enrich.ProviderSpec{Provider: p.Provider, TTL: p.Spec.TTL, NegativeTTL: p.Spec.NegativeTTL, Concurrency: p.Spec.Concurrency}
		b.enrichProviders = append(b.enrichProviders, p.Spec.Name)
	}
	ends := func(ctx context.Context, topic string) (map[int32]int64, error) {
		return kafka.EndOffsets(ctx, admin, topic)
	}
	b.enricher, err = enrich.New(store, b.producer, codec, ends, specs, enrich.Options{
		PeerID: cfg.PeerID, EventsTopic: cfg.Kafka.EventsTopic, Owner: cfg.Enrich.WorkerID,
		MaxBacklog: cfg.Enrich.MaxBacklog, Lease: cfg.Enrich.Lease, RecoverEvery: cfg.Enrich.RecoverEvery,
		Scrub: b.pii.engine.Scrub, PolicyVersion: b.pii.engine.Version(), Metrics: metrics, Logger: log.With("component", "enricher"),
		Tracer: telemetry.Tracer(b.tracer, "enricher"), Clock: b.clock,
	})
	if err != nil {
		return err
	}
	log.Info("enrichment providers ready", "providers", strings.Join(b.enrichProviders, ","), "worker", cfg.Enrich.WorkerID)
	return nil
}

// runEnrich runs `heimdall enrich status|request`.
func runEnrich(ctx context.Context, args []string, stdout, stderr io.Writer, lookup env) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: heimdall enrich status [-json] | request [-provider NAME]... [-reason TEXT] KEY…", errUsage)
	}
	switch args[0] {
	case "status":
		return enrichStatus(ctx, args[1:], stdout, lookup)
	case "request":
		return enrichRequest(ctx, args[1:], stdout, stderr, lookup)
	}
	return fmt.Errorf("%w: unknown enrich command %q (want status or request)", errUsage, args[0])
}

func enrichStatus(ctx context.Context, args []string, stdout io.Writer, lookup env) error {
	fs := flag.NewFlagSet("enrich status", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := config.Load(func(k string) (string, bool) {
		if k == "HEIMDALL_COMPONENTS" {
			return config.ComponentProjector, true
		}
		return lookup(k)
	})
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	clientTLS, err := tlsconf.Client(cfg.TLS.CAFile)
	if err != nil {
		return err
	}
	gs, err := graphstore.Open(ctx, cfg.Postgres.URL, graphstore.WithTLSConfig(clientTLS), graphstore.WithMaxConns(2))
	if err != nil {
		return fmt.Errorf("opening the database: %w", err)
	}
	defer gs.Close()
	store, err := enrichstore.New(ctx, gs.Pool())
	if err != nil {
		return err
	}
	st, err := store.Status(ctx, time.Now())
	if err != nil {
		return err
	}
	// Consumer lag: the log's end offsets against the worker's.
	var lag int64 = -1
	if kc, err := kafkaConfig(cfg.Kafka.Brokers, cfg.Kafka.Auth, clientTLS, "heimdall-enrich-status", nil); err != nil {
		return err
	} else if cl, err := kafka.NewClient(kc); err == nil {
		defer cl.Close()
		if ends, err := kafka.EndOffsets(ctx, cl, cfg.Kafka.EventsTopic); err == nil {
			parts := make([]int32, 0, len(ends))
			for p := range ends {
				parts = append(parts, p)
			}
			if stored, err := store.Offsets(ctx, cfg.Kafka.EventsTopic, parts); err == nil {
				lag = 0
				for p, end := range ends {
					lag += max(end-stored[p], 0)
				}
			}
		}
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(map[string]any{"consumer_lag": lag, "providers": st})
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "consumer lag\t%d records\n\n", lag)
	fmt.Fprintln(tw, "PROVIDER\tPENDING\tIN FLIGHT\tDEFERRED\tRESULTS\tSTANDING\tOUTCOMES\tERRORS\tLAST RESULT")
	for _, p := range st {
		last := "-"
		if p.LastCompleted != nil {
			last = p.LastCompleted.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\n", p.Provider, p.Pending, p.InFlight, p.Deferred, p.Results, p.Standing,
			counts(p.Outcomes), counts(p.ErrorClasses), last)
	}
	return tw.Flush()
}

func counts(m map[string]int64) string {
	if len(m) == 0 {
		return "-"
	}
	var parts []string
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// enrichRequest calls POST /v1/enrichments with the CLI's client
// credentials.
func enrichRequest(ctx context.Context, args []string, stdout, stderr io.Writer, lookup env) error {
	fs := flag.NewFlagSet("enrich request", flag.ContinueOnError)
	var provs multiFlag
	fs.Var(&provs, "provider", "provider name (repeatable; default: every provider for each record's kind)")
	reason := fs.String("reason", "", "why (stored in the audit trail, scrubbed)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("%w: heimdall enrich request [-provider NAME]... [-reason TEXT] KEY…", errUsage)
	}
	body, err := json.Marshal(map[string]any{"keys": fs.Args(), "providers": []string(provs), "reason": *reason})
	if err != nil {
		return err
	}
	return apiCall(ctx, lookup, "POST", "/v1/enrichments", body, stdout, stderr)
}
