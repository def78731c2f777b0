package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"golang.org/x/sync/errgroup"

	"github.com/heimdallhub/heimdall/commands/appendlog"
	"github.com/heimdallhub/heimdall/commands/classify"
	"github.com/heimdallhub/heimdall/commands/enrich"
	"github.com/heimdallhub/heimdall/commands/ingest"
	"github.com/heimdallhub/heimdall/commands/retract"
	"github.com/heimdallhub/heimdall/commands/reveal"
	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/internal/auditstore"
	"github.com/heimdallhub/heimdall/internal/auth"
	"github.com/heimdallhub/heimdall/internal/config"
	"github.com/heimdallhub/heimdall/internal/format"
	"github.com/heimdallhub/heimdall/internal/format/decompress"
	"github.com/heimdallhub/heimdall/internal/graphstore"
	"github.com/heimdallhub/heimdall/internal/httpapi"
	"github.com/heimdallhub/heimdall/internal/kafka"
	"github.com/heimdallhub/heimdall/internal/observable"
	"github.com/heimdallhub/heimdall/internal/pii"
	"github.com/heimdallhub/heimdall/internal/rbac"
	"github.com/heimdallhub/heimdall/internal/schemaregistry"
	"github.com/heimdallhub/heimdall/internal/telemetry"
	"github.com/heimdallhub/heimdall/internal/tlsconf"
	"github.com/heimdallhub/heimdall/projections/audit"
	"github.com/heimdallhub/heimdall/projections/graph"
	"github.com/heimdallhub/heimdall/sync/agent"
	"github.com/heimdallhub/heimdall/sync/export"
)

// projectorGroup is the graph projector's consumer group for an event log:
// one group per log, so deployments sharing a Kafka cluster never share
// members. Keep it stable: offsets live in Postgres, but tooling tracks lag
// by this name.
func projectorGroup(eventsTopic string) string { return "heimdall.projector.graph." + eventsTopic }

// runServe runs the components the configuration (or only) names, until ctx
// is done.
func runServe(ctx context.Context, _ []string, stderr io.Writer, lookup env, only []string) error {
	cfg, err := loadConfig(lookup, only)
	if err != nil {
		return err
	}
	log := telemetry.NewLogger(stderr, cfg.LogLevel)
	log.Info("heimdall starting", "version", version, "peer_id", cfg.PeerID, "components", cfg.Components)
	w, err := wire(ctx, cfg, log)
	if err != nil {
		log.Error("heimdall cannot start", "err", err)
		return err
	}
	defer w.close()

	g, gctx := errgroup.WithContext(ctx)
	if w.importedHLC != nil {
		// What this process writes after an import is ordered after it.
		g.Go(func() error {
			agent.FeedClock(gctx, w.clock, w.importedHLC, time.Second, log.With("component", "clock"))
			return nil
		})
	}
	if cfg.Runs(config.ComponentProjector) {
		// Several members of the group in one process: the broker splits the
		// partitions between them and their batches commit concurrently.
		for i := 0; i < cfg.Project.Workers; i++ {
			consumer := &kafka.GroupConsumer{
				Config: w.kafka, Group: projectorGroup(cfg.Kafka.EventsTopic), Topic: cfg.Kafka.EventsTopic,
				BatchSize: cfg.Project.BatchSize, Handler: w.projector, Logger: log.With("worker", i),
				Registerer: w.registry,
			}
			g.Go(func() error { return consumer.Run(gctx) })
		}
		// The audit trail read model follows the audit topic.
		auditConsumer := &kafka.GroupConsumer{
			Config: w.kafka, Group: "heimdall.projector.audit." + cfg.Kafka.AuditTopic, Topic: cfg.Kafka.AuditTopic,
			BatchSize: cfg.Project.BatchSize, Handler: w.auditProjector, Logger: log.With("projector", "audit"),
			Registerer: w.registry,
		}
		g.Go(func() error { return auditConsumer.Run(gctx) })
		// Conflicting reclassifications the projector recorded go to the
		// audit topic once their batch committed.
		g.Go(func() error { return w.conflictAuditor.Run(gctx) })
	}
	if cfg.Runs(config.ComponentEnricher) {
		consumer := &kafka.GroupConsumer{
			Config: w.kafka, Group: enricherGroup(cfg.Kafka.EventsTopic), Topic: cfg.Kafka.EventsTopic,
			BatchSize: cfg.Project.BatchSize, Handler: w.enricher, Logger: log.With("component", "enricher"),
			Registerer: w.registry,
		}
		g.Go(func() error { return consumer.Run(gctx) })
		g.Go(func() error { return w.enricher.Run(gctx) })
	}
	if cfg.Runs(config.ComponentSync) && w.syncAgent != nil {
		g.Go(func() error { return w.syncAgent.Run(gctx) })
	}
	if cfg.ServesHTTP() {
		g.Go(func() error { return w.server.Serve(gctx, cfg.HTTP.Addr, w.serverTLS, cfg.ShutdownTimeout) })
	}
	err = g.Wait()
	log.Info("heimdall stopped", "err", err)
	return err
}

func loadConfig(lookup env, only []string) (config.Config, error) {
	cfg, err := config.Load(func(k string) (string, bool) {
		if k == "HEIMDALL_COMPONENTS" && only != nil {
			return strings.Join(only, ","), true
		}
		return lookup(k)
	})
	if err != nil {
		return cfg, fmt.Errorf("configuration:\n%w", err)
	}
	if err := graph.SetLevels(cfg.Levels); err != nil {
		return cfg, fmt.Errorf("configuration:\nHEIMDALL_CLASSIFICATION_LEVELS: %w", err)
	}
	return cfg, nil
}

// built holds the adapters and components runServe runs.
type built struct {
	kafka           kafka.Config
	producer        *kafka.Producer
	store           *graphstore.Store
	projector       *graph.Projector
	batches         *ingest.Batches
	pii             *piiLayer
	audit           *auditstore.Store
	enricher        *enrich.Worker
	enrichProviders []string
	tracer          *sdktrace.TracerProvider
	registry        prometheus.Registerer // /metrics, also of the consumers
	auditProjector  *audit.Projector
	conflictAuditor *graph.ConflictAuditor
	server          *httpapi.Server
	syncExporter    *export.Exporter
	syncAgent       *agent.Agent
	// clock issues the HLC of every event this process writes; with peers,
	// it observes the greatest HLC imported from them (importedHLC).
	clock       *events.Clock
	importedHLC func(context.Context) (events.HLC, error)
	serverTLS   *tls.Config
	closers     []func()
}

func (b *built) close() {
	for i := len(b.closers) - 1; i >= 0; i-- {
		b.closers[i]()
	}
}

// wire builds every adapter and component the configuration asks for.
func wire(ctx context.Context, cfg config.Config, log *slog.Logger) (*built, error) {
	b := &built{clock: events.NewClock(time.Now)}
	clientTLS, err := tlsconf.Client(cfg.TLS.CAFile)
	if err != nil {
		return nil, err
	}
	reg := telemetry.NewRegistry()
	b.registry = reg
	codec, err := schemaregistry.NewCodec(ctx, cfg.SchemaRegistry, cfg.TLS.CAFile, log)
	if err != nil {
		return nil, fmt.Errorf("loading event schemas: %w", err)
	}
	if b.kafka, err = kafkaConfig(cfg.Kafka.Brokers, cfg.Kafka.Auth, clientTLS, "heimdall-"+cfg.PeerID, log); err != nil {
		return nil, err
	}
	// Traces: every component continues the trace its input carries (HTTP
	// traceparent, the traceparent header of Kafka records).
	tp, err := telemetry.NewTracerProvider(ctx, telemetry.TraceExport{
		URL: cfg.OTLPTracesURL, TLS: clientTLS, Service: "heimdall", Instance: cfg.PeerID + "/" + strings.Join(cfg.Components, "+"),
	})
	if err != nil {
		return nil, err
	}
	b.closers = append(b.closers, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = tp.Shutdown(ctx) // flushes batched spans
	})
	b.tracer = tp

	// Topics first: every component needs them, and creating them is idempotent.
	admin, err := kafka.NewClient(b.kafka)
	if err != nil {
		return nil, err
	}
	b.closers = append(b.closers, admin.Close)
	if err := ensureTopics(ctx, admin, cfg, log); err != nil {
		b.close()
		return nil, err
	}

	ready := map[string]func(context.Context) error{
		"kafka": func(ctx context.Context) error { return admin.Ping(ctx) },
	}
	if cfg.Runs(config.ComponentAPI) || cfg.Runs(config.ComponentProjector) || cfg.Runs(config.ComponentEnricher) || cfg.Runs(config.ComponentSync) {
		b.store, err = graphstore.Open(ctx, cfg.Postgres.URL,
			graphstore.WithTLSConfig(clientTLS), graphstore.WithLogger(log), graphstore.WithMaxConns(cfg.Postgres.MaxConns),
			graphstore.WithRegisterer(reg))
		if err != nil {
			b.close()
			return nil, fmt.Errorf("opening the graph store: %w", err)
		}
		b.closers = append(b.closers, b.store.Close)
		ready["postgres"] = func(ctx context.Context) error {
			_, err := b.store.ActiveGraph(ctx)
			return err
		}
	}
	if cfg.Runs(config.ComponentAPI) || cfg.Runs(config.ComponentProjector) {
		b.audit, err = auditstore.New(ctx, b.store.Pool())
		if err != nil {
			b.close()
			return nil, err
		}
	}
	if cfg.Runs(config.ComponentProjector) {
		b.projector, err = graph.New(b.store, codec, log, graph.WithTracer(telemetry.Tracer(tp, "projector")))
		if err != nil {
			b.close()
			return nil, err
		}
		b.auditProjector, err = audit.New(b.audit, codec, log)
		if err != nil {
			b.close()
			return nil, err
		}
	}

	// The PII layer: the policy and its keys, for every component that
	// writes values (ingest) or reveals them (the API's decrypt path).
	if cfg.Runs(config.ComponentAPI) || cfg.Runs(config.ComponentIngest) || cfg.Runs(config.ComponentEnricher) {
		b.pii, err = openPII(ctx, cfg.PII, cfg.Postgres, clientTLS)
		if err != nil {
			b.close()
			return nil, err
		}
		b.closers = append(b.closers, b.pii.close)
		log.Info("pii policy loaded", "policy_version", b.pii.engine.Version(),
			"master_key_id", b.pii.engine.KeyStore().MasterKeyID(), "pseudonym_key", b.pii.engine.PseudonymKeyVersion())
		b.producer, err = kafka.NewProducer(b.kafka, kafka.ProducerOptions{
			Linger: cfg.Kafka.ProducerLinger, MaxBufferedRecs: cfg.Kafka.MaxBufferedRecs, Compression: cfg.Kafka.Compression,
		})
		if err != nil {
			b.close()
			return nil, err
		}
		b.closers = append(b.closers, func() {
			ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
			defer cancel()
			b.producer.Close(ctx)
		})
	}

	if cfg.Runs(config.ComponentProjector) {
		if err := ensureProducer(b, cfg); err != nil {
			b.close()
			return nil, err
		}
		producer, auditTopic := b.producer, cfg.Kafka.AuditTopic
		b.conflictAuditor = &graph.ConflictAuditor{
			Outbox: b.store, Peer: cfg.PeerID, Log: log.With("component", "conflict-audit"),
			Append: func(ctx context.Context, es []events.Event) error {
				recs := make([]appendlog.Record, len(es))
				for i, e := range es {
					recs[i] = appendlog.Record{Topic: auditTopic, Event: e}
				}
				return appendlog.All(ctx, producer, codec, 30*time.Second, nil, recs...)
			},
		}
	}

	if cfg.Runs(config.ComponentEnricher) {
		if err := wireEnricher(ctx, b, cfg, codec, reg, admin, log); err != nil {
			b.close()
			return nil, err
		}
	}

	if err := wireSync(ctx, b, cfg, codec, reg, clientTLS, log); err != nil {
		b.close()
		return nil, err
	}

	var ingester httpapi.Ingester
	if cfg.Runs(config.ComponentIngest) {
		profiles, err := ingest.BuiltinProfiles()
		if err != nil {
			b.close()
			return nil, err
		}
		if cfg.Ingest.ProfilesDir != "" {
			own, err := ingest.LoadProfiles(cfg.Ingest.ProfilesDir)
			if err != nil {
				b.close()
				return nil, fmt.Errorf("loading profiles from HEIMDALL_PROFILES_DIR: %w", err)
			}
			for name, p := range own {
				profiles[name] = p
			}
			log.Info("profiles loaded", "dir", cfg.Ingest.ProfilesDir, "count", len(own))
		}
		b.batches = ingest.NewBatches(0)
		h, err := ingest.New(b.producer, codec, ingest.Options{
			PeerID: cfg.PeerID, EventsTopic: cfg.Kafka.EventsTopic, RejectsTopic: cfg.Kafka.RejectsTopic, AuditTopic: cfg.Kafka.AuditTopic,
			Limits: format.Limits{MaxLineBytes: cfg.Ingest.MaxLineBytes}, MaxRejectList: cfg.Ingest.MaxRejectList,
			Decompress: decompress.Limits{MaxCompressedBytes: cfg.Ingest.MaxBodyBytes, MaxDecompressedBytes: cfg.Ingest.MaxDecompressed},
			Progress:   func(id string, r ingest.Result) { b.batches.Update(id, "", 0, &r) },
			PII:        b.pii.engine,
			Clock:      b.clock,
		})
		if err != nil {
			b.close()
			return nil, err
		}
		ingester = h
	}

	if cfg.ServesHTTP() {
		b.serverTLS, err = tlsconf.Server(cfg.TLS.CertFile, cfg.TLS.KeyFile)
		if err != nil {
			b.close()
			return nil, err
		}
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: clientTLS}, Timeout: 30 * time.Second}
		verifier := auth.New(cfg.OIDC.Issuer, cfg.OIDC.Audience, hc, log, auth.WithWaitForRefetch())
		ready["oidc"] = verifier.Ready
		opts := httpapi.Options{
			RBAC: rbac.Config{RoleClaims: cfg.Access.RoleClaims, ClearanceClaim: cfg.Access.ClearanceClaim,
				Grants: cfg.Access.Grants, Levels: graph.Levels()},
			Logger: log, Registry: reg, Verifier: verifier, Ready: ready, Tracer: telemetry.Tracer(tp, "api"),
			Ingest: ingester, MaxBodyBytes: cfg.Ingest.MaxBodyBytes, Batches: b.batches, SpoolDir: cfg.Ingest.SpoolDir,
			Edge: edgeLimits(cfg.HTTP),
		}
		if cfg.Runs(config.ComponentAPI) {
			opts.Entities, opts.Similar, opts.Correlate, opts.Audit, opts.Cypher = b.store, b.store, b.store, b.audit, b.store
			dec, err := reveal.New(&reloadingOpener{layer: b.pii, log: log}, b.producer, codec, reveal.Options{
				PeerID: cfg.PeerID, AuditTopic: cfg.Kafka.AuditTopic, Scrub: b.pii.engine.Scrub, Clock: b.clock,
			})
			if err != nil {
				b.close()
				return nil, err
			}
			opts.Decrypt, opts.Sealed = dec, b.store
			writes := appendlog.Options{PeerID: cfg.PeerID, EventsTopic: cfg.Kafka.EventsTopic, AuditTopic: cfg.Kafka.AuditTopic,
				Scrub: b.pii.engine.Scrub, Clock: b.clock}
			cls, err := classify.New(b.producer, codec, classify.Options{Options: writes, Levels: graph.Levels(), Current: b.store})
			if err != nil {
				b.close()
				return nil, err
			}
			opts.Classify, opts.Records = cls, b.store
			ret, err := retract.New(b.producer, codec, writes)
			if err != nil {
				b.close()
				return nil, err
			}
			opts.Retract = ret
			opts.Keys = keyFinder{b.pii.engine}
			req, err := enrich.NewRequester(b.producer, codec, writes)
			if err != nil {
				b.close()
				return nil, err
			}
			opts.Enrich, opts.EnrichmentViews, opts.EnrichProviders = req, b.store, b.enrichProviders
			if b.syncExporter != nil {
				opts.Sync = b.syncExporter
			}
		}
		b.server = httpapi.New(opts)
		// Discover the provider now so the first request does not wait; a
		// provider that is not up yet is retried on demand.
		_ = verifier.Ready(ctx)
	}
	return b, nil
}

// edgeLimits are the API's limits per client from the configuration.
func edgeLimits(h config.HTTP) httpapi.Edge {
	e := httpapi.Edge{ReadHeaderTimeout: h.ReadHeaderTimeout, BodyIdleTimeout: h.BodyIdleTimeout,
		MaxHeaderBytes: h.MaxHeaderBytes, Rates: map[httpapi.RateClass]httpapi.Rate{}}
	for class, r := range h.Rates {
		e.Rates[httpapi.RateClass(class)] = httpapi.Rate{PerSecond: r.PerSecond, Burst: r.Burst}
	}
	return e
}

// ensureProducer creates the Kafka producer if no component has yet.
func ensureProducer(b *built, cfg config.Config) error {
	if b.producer != nil {
		return nil
	}
	p, err := kafka.NewProducer(b.kafka, kafka.ProducerOptions{
		Linger: cfg.Kafka.ProducerLinger, MaxBufferedRecs: cfg.Kafka.MaxBufferedRecs, Compression: cfg.Kafka.Compression,
	})
	if err != nil {
		return err
	}
	b.producer = p
	b.closers = append(b.closers, func() {
		ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		p.Close(ctx)
	})
	return nil
}

// ensureTopics creates the event log and rejects topics, or checks them.
func ensureTopics(ctx context.Context, admin *kgo.Client, cfg config.Config, log *slog.Logger) error {
	specs := []kafka.TopicSpec{
		{Name: cfg.Kafka.EventsTopic, Partitions: cfg.Kafka.Partitions, ReplicationFactor: cfg.Kafka.ReplicationFactor,
			Configs: kafka.EventLogConfigs(cfg.Kafka.ReplicationFactor)},
		{Name: cfg.Kafka.RejectsTopic, Partitions: cfg.Kafka.Partitions, ReplicationFactor: cfg.Kafka.ReplicationFactor,
			Configs: kafka.EventLogConfigs(cfg.Kafka.ReplicationFactor)},
		{Name: cfg.Kafka.AuditTopic, Partitions: cfg.Kafka.Partitions, ReplicationFactor: cfg.Kafka.ReplicationFactor,
			Configs: kafka.EventLogConfigs(cfg.Kafka.ReplicationFactor)},
	}
	tctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := kafka.EnsureTopics(tctx, admin, specs...); err != nil {
		return fmt.Errorf("preparing topics: %w", err)
	}
	log.Info("topics ready", "events", cfg.Kafka.EventsTopic, "rejects", cfg.Kafka.RejectsTopic, "audit", cfg.Kafka.AuditTopic, "partitions", cfg.Kafka.Partitions)
	return nil
}

// reloadingOpener opens sealed values with the engine, first loading data
// keys another process created when a value names one this process does
// not hold yet.
type reloadingOpener struct {
	layer *piiLayer
	log   *slog.Logger
}

func (o *reloadingOpener) Decrypt(recordKey, field, sealed string) (string, error) {
	if id := pii.DataKeyID(sealed); id != "" && !o.layer.engine.KeyStore().Has(id) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := o.layer.keys.Reload(ctx, o.layer.engine.KeyStore()); err != nil {
			o.log.Warn("reloading data keys failed", "err", err)
		}
	}
	return o.layer.engine.Decrypt(recordKey, field, sealed)
}

// keyFinder gives the plain and the personal key of a raw value.
type keyFinder struct{ engine *pii.Engine }

func (k keyFinder) Keys(kind, value string) (string, string, error) {
	o, err := observable.Parse(kind, value)
	if err != nil {
		return "", "", err
	}
	return o.Key(), observable.PersonalKey(o.Kind, k.engine.Pseudonym(string(o.Kind), o.Value)), nil
}
