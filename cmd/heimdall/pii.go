package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"strconv"
	"time"

	"github.com/google/uuid"

	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"github.com/heimdallhub/heimdall/commands/appendlog"
	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/internal/auth"
	"github.com/heimdallhub/heimdall/internal/kafka"
	"io"
	"os"
	"slices"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heimdallhub/heimdall/internal/config"
	"github.com/heimdallhub/heimdall/internal/datakeys"
	"github.com/heimdallhub/heimdall/internal/graphstore"
	"github.com/heimdallhub/heimdall/internal/pii"
	"github.com/heimdallhub/heimdall/internal/pii/policy"
	"github.com/heimdallhub/heimdall/internal/pii/scrub"
	"github.com/heimdallhub/heimdall/internal/schemaregistry"
	"github.com/heimdallhub/heimdall/internal/tlsconf"
	"github.com/heimdallhub/heimdall/projections/graph"
)

// piiLayer is the PII engine with the store of its data keys.
type piiLayer struct {
	engine *pii.Engine
	keys   *datakeys.Store
	pool   *pgxpool.Pool
}

func (l *piiLayer) close() { l.pool.Close() }

// loadPolicy reads the policy file, or the built-in policy when path is "".
func loadPolicy(path string) (*policy.Policy, error) {
	if path == "" {
		return policy.Builtin()
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("HEIMDALL_PII_POLICY: %w", err)
	}
	p, err := policy.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("HEIMDALL_PII_POLICY %s:\n%w", path, err)
	}
	return p, nil
}

// openPII loads the policy, opens (or creates) the data keys with the master
// key and builds the engine. It fails, and Heimdall does not start, when
// the policy is invalid or a stored data key cannot be opened with the
// configured master keys.
func openPII(ctx context.Context, p config.PII, pg config.Postgres, clientTLS *tls.Config) (*piiLayer, error) {
	pol, err := loadPolicy(p.PolicyFile)
	if err != nil {
		return nil, err
	}
	if !slices.Equal(pol.Levels(), graph.Levels()) {
		return nil, fmt.Errorf("HEIMDALL_PII_POLICY: its levels %v must be HEIMDALL_CLASSIFICATION_LEVELS %v", pol.Levels(), graph.Levels())
	}
	sc, err := scrub.New(scrub.Config{NationalIDs: p.NationalIDs})
	if err != nil {
		return nil, fmt.Errorf("HEIMDALL_SCRUB_NATIONAL_IDS: %w (known: %v)", err, scrub.NationalIDSchemes())
	}
	pcfg, err := graphstore.PoolConfig(pg.URL, graphstore.WithTLSConfig(clientTLS))
	if err != nil {
		return nil, err
	}
	pcfg.MaxConns = 2
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("data keys: connecting to postgres: %w", err)
	}
	store, err := datakeys.New(ctx, pool)
	if err != nil {
		pool.Close()
		return nil, err
	}
	ks, err := store.Open(ctx, p.MasterKey, p.PreviousMasterKeys...)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("%w (is HEIMDALL_MASTER_KEY the key the data keys were wrapped with? during a rotation list the old one in HEIMDALL_MASTER_KEY_PREVIOUS)", err)
	}
	eng, err := pii.NewEngine(pol, p.PseudonymKeys, ks, sc)
	if err != nil {
		pool.Close()
		return nil, err
	}
	return &piiLayer{engine: eng, keys: store, pool: pool}, nil
}

const keysUsage = `usage: heimdall keys <command>

commands:
  generate   print a new random key (base64 of 32 bytes) for HEIMDALL_MASTER_KEY or HEIMDALL_PSEUDONYM_KEYS
  rotate     re-wrap every data key under HEIMDALL_MASTER_KEY; keys wrapped by a key in
             HEIMDALL_MASTER_KEY_PREVIOUS are opened with it. Data is not re-encrypted.
  status     the current master key id, the data keys per wrapping master key`

// runKeys administers the PII keys.
func runKeys(ctx context.Context, args []string, stdout io.Writer, lookup env) error {
	if len(args) != 1 {
		return fmt.Errorf("%w\n%s", errUsage, keysUsage)
	}
	if args[0] == "generate" {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		_, err := fmt.Fprintln(stdout, base64.StdEncoding.EncodeToString(b))
		return err
	}
	if args[0] != "rotate" && args[0] != "status" {
		return fmt.Errorf("%w: unknown keys command %q\n%s", errUsage, args[0], keysUsage)
	}
	cfg, err := config.LoadKeys(lookup)
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	clientTLS, err := tlsconf.Client(cfg.CAFile)
	if err != nil {
		return err
	}
	pcfg, err := graphstore.PoolConfig(cfg.Postgres.URL, graphstore.WithTLSConfig(clientTLS))
	if err != nil {
		return err
	}
	pcfg.MaxConns = 2
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	store, err := datakeys.New(ctx, pool)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if args[0] == "status" {
		by, err := store.ByMaster(ctx)
		if err != nil {
			return err
		}
		return enc.Encode(map[string]any{"master_key_id": cfg.PII.MasterKey.ID(), "data_keys_by_master_key": by})
	}
	// A rotation is a write: it needs an authenticated actor (the tools'
	// client, HEIMDALL_CLIENT_ID/SECRET) and goes into the audit trail.
	actor, err := operator(ctx, lookup, cfg.Audience)
	if err != nil {
		return fmt.Errorf("keys rotate needs an authenticated actor: %w", err)
	}
	rot, err := store.Rotate(ctx, cfg.PII.MasterKey, cfg.PII.PreviousMasterKeys...)
	if err != nil {
		return err
	}
	if err := auditRotation(ctx, cfg, clientTLS, actor, rot); err != nil {
		return fmt.Errorf("the data keys were re-wrapped, but the audit record was not written: %w", err)
	}
	return enc.Encode(rot)
}

// operator authenticates the tools' client and returns it as an actor.
func operator(ctx context.Context, lookup env, audience string) (events.Actor, error) {
	c, err := newAPIClient(ctx, lookup)
	if err != nil {
		return events.Actor{}, err
	}
	tok, err := c.token()
	if err != nil {
		return events.Actor{}, err
	}
	p, err := auth.New(c.cfg.Issuer, audience, c.http, nil).Verify(ctx, tok)
	if err != nil {
		return events.Actor{}, err
	}
	return events.Actor{Subject: p.Subject, Issuer: p.Issuer}, nil
}

// auditRotation appends the rotation's audit record and waits for it.
func auditRotation(ctx context.Context, cfg config.Keys, clientTLS *tls.Config, actor events.Actor, rot datakeys.Rotation) error {
	codec, err := schemaregistry.NewCodec(ctx, cfg.SchemaRegistry, cfg.CAFile, nil)
	if err != nil {
		return err
	}
	kc, err := kafkaConfig(cfg.Brokers, cfg.KafkaAuth, clientTLS, "heimdall-keys", nil)
	if err != nil {
		return err
	}
	p, err := kafka.NewProducer(kc, kafka.ProducerOptions{DeliveryTimeout: 30 * time.Second})
	if err != nil {
		return err
	}
	defer p.Close(context.Background())
	now := time.Now()
	hlc := events.NewClock(time.Now).Now()
	requestID := uuid.Must(uuid.NewV7()).String()
	peer := cfg.PeerID
	if peer == "" {
		peer = "local"
	}
	ev := events.Event{
		ID: events.DeterministicID(now, requestID, "keys.rotate"), Key: actor.Subject, OriginPeer: peer,
		Vector: events.VersionVector{peer: int64(hlc)}, HLC: hlc, Actor: actor, RequestID: requestID, BatchID: requestID,
		RecordedAt: hlc.Time(), Provenance: events.Provenance{Source: "cli", Format: "keys"}, Classification: "UNCLASSIFIED",
		Payload: events.AuditRecorded{Action: "keys.rotate", Outcome: "done", Records: append([]string{}, rot.Rewrapped...),
			Details: []events.AuditDetail{{Name: "master_key_id", Value: rot.MasterKeyID}, {Name: "rewrapped", Value: strconv.Itoa(len(rot.Rewrapped))},
				{Name: "data_keys", Value: strconv.Itoa(rot.Keys)}}},
	}
	return appendlog.All(ctx, p, codec, 30*time.Second, nil, appendlog.Record{Topic: cfg.AuditTopic, Event: ev})
}

const policyUsage = `usage: heimdall policy <command>

commands:
  show         print the built-in PII policy (a starting point for HEIMDALL_PII_POLICY)
  check FILE   validate a policy file and print every problem`

// runPolicy shows or checks PII policies.
func runPolicy(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("policy", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil || fs.NArg() == 0 {
		return fmt.Errorf("%w\n%s", errUsage, policyUsage)
	}
	switch {
	case fs.Arg(0) == "show" && fs.NArg() == 1:
		_, err := stdout.Write(policy.BuiltinYAML())
		return err
	case fs.Arg(0) == "check" && fs.NArg() == 2:
		p, err := loadPolicy(fs.Arg(1))
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s: valid, version %s, levels %v\n", fs.Arg(1), p.Version(), p.Levels())
		return err
	}
	return fmt.Errorf("%w\n%s", errUsage, policyUsage)
}
