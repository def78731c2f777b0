package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/internal/config"
	"github.com/heimdallhub/heimdall/internal/graphstore"
	"github.com/heimdallhub/heimdall/internal/kafka"
	"github.com/heimdallhub/heimdall/internal/schemaregistry"
	"github.com/heimdallhub/heimdall/internal/syncstore"
	"github.com/heimdallhub/heimdall/internal/tlsconf"
	"github.com/heimdallhub/heimdall/projections/graph"
	"github.com/heimdallhub/heimdall/sync/agent"
	"github.com/heimdallhub/heimdall/sync/exchange"
	"github.com/heimdallhub/heimdall/sync/export"
)

// wireSync builds peer sync's parts the configuration asks for: the export
// endpoint (api component, with a peers file) and the agent (sync
// component).
func wireSync(ctx context.Context, b *built, cfg config.Config, codec *events.Codec, reg prometheus.Registerer, clientTLS *tls.Config, log *slog.Logger) error {
	if cfg.Sync.PeersFile == "" {
		return nil
	}
	peers, err := exchange.LoadPeers(cfg.Sync.PeersFile, cfg.PeerID, graph.Levels())
	if err != nil {
		return fmt.Errorf("HEIMDALL_SYNC_PEERS: %w", err)
	}
	filePaused := map[string]bool{}
	for _, p := range peers {
		filePaused[p.ID] = p.Paused
	}
	store, err := syncstore.New(ctx, b.store.Pool(), filePaused)
	if err != nil {
		return err
	}
	b.importedHLC = store.MaxImportedHLC
	// A client per pull (and per recovery read): its info lines would
	// flood the log.
	quiet := b.kafka
	quiet.Logger = nil
	if cfg.Runs(config.ComponentAPI) {
		b.syncExporter, err = export.New(export.Options{
			Self: cfg.PeerID, Peers: peers, Levels: graph.Levels(), Codec: codec, Logger: log.With("component", "sync-export"),
			Registry: reg, Paused: store.Paused,
			Open: func(ctx context.Context, from map[int32]int64, only []int32) (export.Tail, error) {
				return kafka.OpenTail(ctx, quiet, cfg.Kafka.EventsTopic, from, only)
			},
		})
		if err != nil {
			return err
		}
	}
	if !cfg.Runs(config.ComponentSync) {
		return nil
	}
	if b.producer == nil {
		b.producer, err = kafka.NewProducer(b.kafka, kafka.ProducerOptions{
			Linger: cfg.Kafka.ProducerLinger, MaxBufferedRecs: cfg.Kafka.MaxBufferedRecs, Compression: cfg.Kafka.Compression,
		})
		if err != nil {
			return err
		}
		b.closers = append(b.closers, func() {
			ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
			defer cancel()
			b.producer.Close(ctx)
		})
	}
	b.syncAgent, err = newSyncAgent(ctx, cfg, peers, store, b.producer, quiet, codec, reg, clientTLS, log)
	return err
}

// newSyncAgent builds the agent pulling from peers.
func newSyncAgent(ctx context.Context, cfg config.Config, peers []exchange.Peer, store agent.Store, log agent.Log, kc kafka.Config,
	codec *events.Codec, reg prometheus.Registerer, clientTLS *tls.Config, logger *slog.Logger) (*agent.Agent, error) {
	tokens, err := peerTokens(ctx, cfg, clientTLS)
	if err != nil {
		return nil, err
	}
	clients := map[string]*http.Client{}
	for _, p := range peers {
		t := clientTLS.Clone()
		t.ServerName = p.Host() // the peer's identity: its certificate must name it
		clients[p.ID] = &http.Client{Transport: &http.Transport{TLSClientConfig: t, ForceAttemptHTTP2: true,
			ResponseHeaderTimeout: cfg.Sync.Wait + 30*time.Second}}
	}
	return agent.New(agent.Options{
		Self: cfg.PeerID, Peers: peers, Store: store, Log: log, Topic: cfg.Kafka.EventsTopic, Codec: codec,
		Reader: func(ctx context.Context, topic string, since time.Time, fn func(events.LogRecord) error) error {
			return kafka.ReadSince(ctx, kc, topic, since, fn)
		},
		Token: tokens, Client: func(p exchange.Peer) *http.Client { return clients[p.ID] },
		Logger: logger.With("component", "sync"), Max: cfg.Sync.Max, Wait: cfg.Sync.Wait, MaxBackoff: cfg.Sync.MaxBackoff,
		RepairEvery: cfg.Sync.RepairEvery, Registry: reg,
	})
}

// peerTokens returns this peer's client-credentials token source.
func peerTokens(ctx context.Context, cfg config.Config, clientTLS *tls.Config) (agent.TokenSource, error) {
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: clientTLS}, Timeout: 30 * time.Second}
	dctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, hc), 30*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(dctx, cfg.OIDC.Issuer)
	if err != nil {
		return nil, fmt.Errorf("discovering the OIDC provider: %w", err)
	}
	cc := clientcredentials.Config{ClientID: cfg.Sync.ClientID, ClientSecret: string(cfg.Sync.ClientSecret), TokenURL: p.Endpoint().TokenURL}
	ts := oauth2.ReuseTokenSource(nil, cc.TokenSource(context.WithValue(context.WithoutCancel(ctx), oauth2.HTTPClient, hc)))
	return func(context.Context) (string, error) {
		t, err := ts.Token()
		if err != nil {
			return "", err
		}
		return t.AccessToken, nil
	}, nil
}

const syncUsage = `heimdall sync                 run the sync agent alone (pull from every peer)
heimdall sync status [-json]  per peer: paused, last contact, lag, imported, conflicts, checkpoint
heimdall sync pause PEER      stop pulling from and serving PEER (recorded with the operator)
heimdall sync resume PEER     undo a pause
heimdall sync reset PEER      forget PEER's checkpoint: the next pull starts from the beginning
heimdall sync repair PEER     one anti-entropy round now: fetch what PEER holds and never arrived here`

// runSync runs the agent alone, or one of its operations.
func runSync(ctx context.Context, args []string, stdout, stderr io.Writer, lookup env) error {
	if len(args) == 0 {
		return runServe(ctx, nil, stderr, lookup, []string{config.ComponentSync})
	}
	switch args[0] {
	case "status", "pause", "resume", "reset", "repair":
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, syncUsage)
		return nil
	default:
		return fmt.Errorf("%w: unknown sync command %q\n%s", errUsage, args[0], syncUsage)
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
	if err := graph.SetLevels(cfg.Levels); err != nil {
		return err
	}
	if cfg.Sync.PeersFile == "" {
		return fmt.Errorf("%w: HEIMDALL_SYNC_PEERS names no peers file", errUsage)
	}
	peers, err := exchange.LoadPeers(cfg.Sync.PeersFile, cfg.PeerID, graph.Levels())
	if err != nil {
		return fmt.Errorf("HEIMDALL_SYNC_PEERS: %w", err)
	}
	ids := make([]string, 0, len(peers))
	filePaused := map[string]bool{}
	for _, p := range peers {
		ids = append(ids, p.ID)
		filePaused[p.ID] = p.Paused
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
	store, err := syncstore.New(ctx, gs.Pool(), filePaused, syncstore.WithConflicts(gs))
	if err != nil {
		return err
	}
	if args[0] == "status" {
		return syncStatus(ctx, store, gs, ids, args[1:], stdout)
	}
	if len(args) != 2 {
		return fmt.Errorf("%w: heimdall sync %s PEER", errUsage, args[0])
	}
	peer := args[1]
	known := false
	for _, id := range ids {
		known = known || id == peer
	}
	if !known {
		return fmt.Errorf("%w: %s is not a peer in %s", errUsage, peer, cfg.Sync.PeersFile)
	}
	if args[0] == "repair" {
		return syncRepair(ctx, cfg, peers, peer, store, clientTLS, stdout)
	}
	actor, err := operator(ctx, lookup, cfg.OIDC.Audience)
	if err != nil {
		return fmt.Errorf("identifying the operator (HEIMDALL_CLIENT_ID): %w", err)
	}
	who := actor.Subject + " (" + actor.Issuer + ")"
	switch args[0] {
	case "pause", "resume":
		if err := store.SetPaused(ctx, peer, args[0] == "pause", who); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "peer %s %sd by %s (running agents and exporters follow within seconds)\n", peer, args[0], actor.Subject)
	case "reset":
		if err := store.Reset(ctx, peer); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "checkpoint of peer %s forgotten by %s: the next pull starts from the beginning\n", peer, actor.Subject)
	}
	return nil
}

func syncStatus(ctx context.Context, store *syncstore.Store, conflicts syncstore.ConflictCounter, ids []string, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("sync status", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	st, err := store.Status(ctx, ids)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	tw := tabwriter.NewWriter(stdout, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "PEER\tSTATE\tLAST CONTACT\tLAG\tIMPORTED\tDUPLICATES\tCONFLICTS\tCHECKPOINT\tLAST ERROR")
	for _, s := range st {
		state := "active"
		if s.Paused {
			state = "paused"
		}
		contact := "never"
		if s.LastContact != nil {
			contact = s.LastContact.UTC().Format(time.RFC3339)
		}
		errText := s.LastError
		if len(errText) > 60 {
			errText = errText[:60] + "…"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\n", s.Peer, state, contact, s.Lag, s.Imported, s.Duplicates,
			s.Conflicts, strings.ReplaceAll(s.Checkpoint.String(), ",", " "), errText)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// A conflict between events of two other peers (forwarded by a
	// neighbour) is in no row: the total says how many there are in all.
	_, total, err := conflicts.ConflictsByPeer(ctx)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "reclassification conflicts recorded: %d (CONFLICTS: those in which an event of the peer won or lost)\n", total)
	return err
}

// syncRepair runs one anti-entropy round against peer with this peer's
// sync credentials.
func syncRepair(ctx context.Context, cfg config.Config, peers []exchange.Peer, peer string, store *syncstore.Store, clientTLS *tls.Config, stdout io.Writer) error {
	var p exchange.Peer
	for _, x := range peers {
		if x.ID == peer {
			p = x
		}
	}
	if p.URL == "" {
		return fmt.Errorf("%w: peer %s has no url: this peer does not pull from it", errUsage, peer)
	}
	if cfg.Sync.ClientID == "" || cfg.Sync.ClientSecret == "" {
		return fmt.Errorf("%w: HEIMDALL_SYNC_CLIENT_ID and HEIMDALL_SYNC_CLIENT_SECRET are needed to pull", errUsage)
	}
	codec, err := schemaregistry.NewCodec(ctx, cfg.SchemaRegistry, cfg.TLS.CAFile, nil)
	if err != nil {
		return err
	}
	kc, err := kafkaConfig(cfg.Kafka.Brokers, cfg.Kafka.Auth, clientTLS, "heimdall-sync-repair-"+cfg.PeerID, nil)
	if err != nil {
		return err
	}
	producer, err := kafka.NewProducer(kc,
		kafka.ProducerOptions{DeliveryTimeout: time.Minute, Compression: cfg.Kafka.Compression})
	if err != nil {
		return err
	}
	defer producer.Close(context.WithoutCancel(ctx))
	a, err := newSyncAgent(ctx, cfg, []exchange.Peer{p}, store, producer, kc, codec, nil, clientTLS, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	start := time.Now()
	r, err := a.Repair(ctx, p)
	if err != nil {
		return fmt.Errorf("anti-entropy with %s: %w", peer, err)
	}
	fmt.Fprintf(stdout, "anti-entropy with %s: %d ranges compared, %d not verified before; %d event ids listed, %d missing here, %d appended (%v)\n",
		peer, r.Ranges, r.Checked, r.Listed, r.Missing, r.Appended, time.Since(start).Round(time.Millisecond))
	return nil
}
