package graphstore

import (
	"context"
	"crypto/tls"
	"embed"
	"errors"
	"fmt"
	"github.com/heimdallhub/heimdall/internal/embedding"
	"io/fs"
	"log/slog"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	pgxvec "github.com/pgvector/pgvector-go/pgx"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/heimdallhub/heimdall/projections/graph"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

//go:embed layout.sql
var layoutSQL string

// layoutVersion is the version of layout.sql, recorded per generation.
// Additive changes (indexes) are applied in place to live generations of an
// older layout by upgradeLayout; anything else needs a rebuild.
const layoutVersion = 9

// contributionsLayout is the first layout whose generations keep
// contributions from their creation on (heimdall.generations.created_layout
// at least this): their retractions recompute records exactly. A generation
// created with an older layout and upgraded in place lacks the
// contributions of what it held before, so its retractions keep the older,
// approximate recompute from provenance until it is rebuilt.
const contributionsLayout = 6

// layoutUpgrades holds, per layout version, the additive statements that
// bring a generation of the previous version up to it (@graph@ as in
// layout.sql).
var layoutUpgrades = map[int][]string{
	2: {
		`CREATE INDEX IF NOT EXISTS relation_state_source ON @graph@.relation_state (source_key)`,
		`CREATE INDEX IF NOT EXISTS relation_state_target ON @graph@.relation_state (target_key)`,
	},
	3: {
		`CREATE TABLE IF NOT EXISTS @graph@.similarity (key text COLLATE "C" PRIMARY KEY, model text NOT NULL, embedding vector(256) NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS similarity_hnsw ON @graph@.similarity USING hnsw (embedding vector_cosine_ops)`,
	},
	4: {
		`CREATE TABLE IF NOT EXISTS @graph@.retractions (scope text NOT NULL, id text NOT NULL, retracted_at timestamptz NOT NULL, PRIMARY KEY (scope, id))`,
		`CREATE INDEX IF NOT EXISTS provenance_batch ON @graph@.provenance (batch_id)`,
		`CREATE INDEX IF NOT EXISTS provenance_source ON @graph@.provenance (source)`,
	},
	5: {enrichmentsTable},
	6: {
		`ALTER TABLE @graph@.entity_state ADD COLUMN IF NOT EXISTS reclassification jsonb`,
		`ALTER TABLE @graph@.entity_state ADD COLUMN IF NOT EXISTS levels jsonb NOT NULL DEFAULT '{}'`,
		`ALTER TABLE @graph@.relation_state ADD COLUMN IF NOT EXISTS reclassification jsonb`,
		`ALTER TABLE @graph@.relation_state ADD COLUMN IF NOT EXISTS levels jsonb NOT NULL DEFAULT '{}'`,
		contributionsTable,
		`CREATE INDEX IF NOT EXISTS contributions_batch ON @graph@.contributions (batch_id)`,
		`CREATE INDEX IF NOT EXISTS contributions_source ON @graph@.contributions (source)`,
		pendingTable,
	},
	7: {
		`ALTER TABLE @graph@.pending_reclassifications ADD COLUMN IF NOT EXISTS vector jsonb NOT NULL DEFAULT '{}'`,
		conflictsTable,
		conflictsIndex,
	},
	// The log starts with the changes the records keep (the winners): a
	// generation upgraded in place compares later changes with those, not
	// with the losers it met before; a rebuild fills the log whole.
	8: {
		reclassificationsTable,
		`INSERT INTO @graph@.reclassifications (record_type, record_key, event_id, level, hlc, peer, vector)
			SELECT 'entity', key, (reclassification->>'event_id')::uuid, reclassification->>'level', (reclassification->>'hlc')::bigint,
				reclassification->>'peer', coalesce(reclassification->'vector', '{}')
			FROM @graph@.entity_state WHERE reclassification IS NOT NULL AND reclassification ? 'event_id'
			ON CONFLICT DO NOTHING`,
		`INSERT INTO @graph@.reclassifications (record_type, record_key, event_id, level, hlc, peer, vector)
			SELECT 'relation', key, (reclassification->>'event_id')::uuid, reclassification->>'level', (reclassification->>'hlc')::bigint,
				reclassification->>'peer', coalesce(reclassification->'vector', '{}')
			FROM @graph@.relation_state WHERE reclassification IS NOT NULL AND reclassification ? 'event_id'
			ON CONFLICT DO NOTHING`,
		`INSERT INTO @graph@.reclassifications (record_type, record_key, event_id, level, hlc, peer, vector)
			SELECT type, key, event_id, level, hlc, peer, vector FROM @graph@.pending_reclassifications
			ON CONFLICT DO NOTHING`,
	},
	// Retractions recorded before they carried a clearance reach every
	// level, as they did.
	9: {
		`ALTER TABLE @graph@.retractions ADD COLUMN IF NOT EXISTS reach integer NOT NULL DEFAULT 2147483647`,
	},
}

// reclassificationsTable is layout version 8.
const reclassificationsTable = `CREATE TABLE IF NOT EXISTS @graph@.reclassifications (
    record_type text COLLATE "C" NOT NULL,
    record_key  text COLLATE "C" NOT NULL,
    event_id    uuid NOT NULL,
    level       text COLLATE "C" NOT NULL,
    hlc         bigint NOT NULL,
    peer        text COLLATE "C" NOT NULL,
    vector      jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (record_type, record_key, event_id)
)`

// conflictsTable and conflictsIndex are layout version 7.
const (
	conflictsTable = `CREATE TABLE IF NOT EXISTS @graph@.reclassification_conflicts (
    record_key   text COLLATE "C" NOT NULL,
    winner_event uuid NOT NULL,
    loser_event  uuid NOT NULL,
    record_type  text NOT NULL,
    winner_peer  text NOT NULL,
    loser_peer   text NOT NULL,
    winner_hlc   bigint NOT NULL,
    loser_hlc    bigint NOT NULL,
    winner_level text NOT NULL,
    loser_level  text NOT NULL,
    rule         text NOT NULL,
    detected_at  timestamptz NOT NULL DEFAULT now(),
    audited_at   timestamptz,
    PRIMARY KEY (record_key, winner_event, loser_event)
)`
	conflictsIndex = `CREATE INDEX IF NOT EXISTS reclassification_conflicts_unaudited
    ON @graph@.reclassification_conflicts (detected_at) WHERE audited_at IS NULL`
)

// contributionsTable and pendingTable are layout version 6.
const (
	contributionsTable = `CREATE TABLE IF NOT EXISTS @graph@.contributions (
    record_key text COLLATE "C" NOT NULL,
    type       text COLLATE "C" NOT NULL,
    event_id   uuid NOT NULL,
    batch_id   text NOT NULL,
    source     text NOT NULL,
    delta      jsonb NOT NULL,
    PRIMARY KEY (record_key, type, event_id)
)`
	pendingTable = `CREATE TABLE IF NOT EXISTS @graph@.pending_reclassifications (
    type     text COLLATE "C" NOT NULL,
    key      text COLLATE "C" NOT NULL,
    level    text COLLATE "C" NOT NULL,
    hlc      bigint NOT NULL,
    peer     text COLLATE "C" NOT NULL,
    event_id uuid NOT NULL,
    PRIMARY KEY (type, key)
)`
)

// enrichmentsTable is the enrichment view (layout version 5).
const enrichmentsTable = `CREATE TABLE IF NOT EXISTS @graph@.enrichments (
    record_key     text COLLATE "C" NOT NULL,
    provider       text COLLATE "C" NOT NULL,
    provider_type  text NOT NULL,
    job_id         text NOT NULL,
    event_id       uuid NOT NULL,
    outcome        text NOT NULL,
    error_class    text NOT NULL,
    error_reason   text NOT NULL,
    data_version   text NOT NULL,
    classification text NOT NULL,
    attempts       integer NOT NULL,
    requested_at   timestamptz NOT NULL,
    completed_at   timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    attributes     jsonb NOT NULL,
    relations      jsonb NOT NULL,
    embedding      vector,
    PRIMARY KEY (record_key, provider)
)`

// MinAGEVersion is the oldest Apache AGE this package is tested with.
const MinAGEVersion = "1.5.0"

// searchPath is set on every connection, as AGE expects.
const searchPath = `ag_catalog, "$user", public`

// Advisory lock keys (two-int form): the class is fixed, the object is 0 for
// generation administration or a generation id for its label creation.
const (
	lockClassGenerations int32 = 0x48474e31 // "HGN1"
	lockClassLabels      int32 = 0x48474c31 // "HGL1"
)

// Store keeps the graph read model in PostgreSQL with Apache AGE. It
// implements graph.Store for projectors and offers the reads the query API
// needs. It is safe for concurrent use.
type Store struct {
	pool       *pgxpool.Pool
	ownsPool   bool
	log        *slog.Logger
	ageVersion string
	provLimit  int
	maxRetries int
	durable    bool

	mu     sync.Mutex
	labels map[int64]*labelCache // generation id -> labels known to exist

	embedder embedding.Embedder // look-alike vectors of domains and URLs

	conflicts prometheus.Counter // MetricReclassificationConflicts
}

var _ graph.Store = (*Store)(nil)

type options struct {
	tls        *tls.Config
	logger     *slog.Logger
	maxConns   int32
	provLimit  int
	loadAGE    bool
	maxRetries int
	durable    bool
	registerer prometheus.Registerer
}

// Option configures Open and New.
type Option func(*options)

// WithTLSConfig replaces the TLS configuration derived from the URL's
// sslrootcert (the URL must still ask for TLS). It is cloned and restricted
// to TLS 1.3.
func WithTLSConfig(cfg *tls.Config) Option { return func(o *options) { o.tls = cfg } }

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithMaxConns sets the pool size of Open (default: pgxpool's).
func WithMaxConns(n int32) Option { return func(o *options) { o.maxConns = n } }

// WithProvenanceLimit sets how many provenance entries Entity returns
// (default 20).
func WithProvenanceLimit(n int) Option { return func(o *options) { o.provLimit = n } }

// WithLoadAGE runs LOAD 'age' on every new connection, for servers that do
// not list age in shared_preload_libraries (the role must be allowed to load
// it). Without it, Open checks that Cypher works and fails otherwise.
func WithLoadAGE() Option { return func(o *options) { o.loadAGE = true } }

// WithDurableCommits makes Apply wait for each commit to be flushed to disk
// (synchronous_commit on). By default Apply commits with synchronous_commit
// off: a database crash may then lose the last batches committed in the
// fraction of a second before it, but never a part of one, because the
// offsets are in the same transaction; the projector then re-reads those
// records from the log, which is the source of truth, so no effect is lost or
// doubled. A crash of Heimdall itself loses nothing either way.
func WithDurableCommits() Option { return func(o *options) { o.durable = true } }

// WithRegisterer registers the store's metrics
// (MetricReclassificationConflicts) with reg; without it they are kept but
// not exported.
func WithRegisterer(reg prometheus.Registerer) Option { return func(o *options) { o.registerer = reg } }

// WithMaxRetries sets how often Apply retries a transaction that failed with
// a deadlock or serialization failure (default 5).
func WithMaxRetries(n int) Option { return func(o *options) { o.maxRetries = n } }

func collect(opts []Option) options {
	o := options{provLimit: 20, maxRetries: 5}
	for _, f := range opts {
		f(&o)
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Open connects to the database at url (which must require TLS with
// certificate verification: sslmode=verify-full or verify-ca), migrates it,
// and makes sure a generation is active.
func Open(ctx context.Context, url string, opts ...Option) (*Store, error) {
	o := collect(opts)
	cfg, err := poolConfig(url, o)
	if err != nil {
		return nil, err
	}
	if o.maxConns > 0 {
		cfg.MaxConns = o.maxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("creating postgres pool: %w", err)
	}
	s, err := New(ctx, pool, opts...)
	if err != nil {
		pool.Close()
		return nil, err
	}
	s.ownsPool = true
	return s, nil
}

// PoolConfig parses url into a pool configuration with Heimdall's settings:
// TLS 1.3 with verification required, AGE's search_path, and pgvector types
// registered on each connection when the vector extension exists. Use it to
// build a pool shared with other stores, then pass the pool to New.
func PoolConfig(url string, opts ...Option) (*pgxpool.Config, error) {
	return poolConfig(url, collect(opts))
}

func poolConfig(url string, o options) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's message may repeat parts of the URL: keep it out.
		return nil, errors.New("parsing postgres URL: not a valid connection string")
	}
	cc := cfg.ConnConfig
	if err := requireVerifiedTLS(cc.TLSConfig, cc.Fallbacks); err != nil {
		return nil, err
	}
	configs := []*tls.Config{}
	if o.tls != nil {
		cc.TLSConfig = tlsOverride(o.tls, cc.Host)
		configs = append(configs, cc.TLSConfig)
		for _, fb := range cc.Fallbacks {
			fb.TLSConfig = tlsOverride(o.tls, fb.Host)
			configs = append(configs, fb.TLSConfig)
		}
	} else {
		configs = append(configs, cc.TLSConfig)
		for _, fb := range cc.Fallbacks {
			configs = append(configs, fb.TLSConfig)
		}
	}
	for _, c := range configs {
		c.MinVersion, c.MaxVersion = tls.VersionTLS13, tls.VersionTLS13
	}
	cc.RuntimeParams["search_path"] = searchPath
	loadAGE := o.loadAGE
	cfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		if loadAGE {
			if _, err := conn.Exec(ctx, "LOAD 'age'"); err != nil {
				return fmt.Errorf("loading the age library: %w", err)
			}
		}
		var hasVector bool
		if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'vector')").Scan(&hasVector); err != nil {
			return fmt.Errorf("checking for the vector extension: %w", err)
		}
		if hasVector {
			if err := pgxvec.RegisterTypes(ctx, conn); err != nil {
				return fmt.Errorf("registering pgvector types: %w", err)
			}
		}
		return nil
	}
	return cfg, nil
}

// requireVerifiedTLS refuses connection settings that could fall back to
// plaintext (sslmode disable, allow, prefer) or that do not verify the
// server (sslmode require without a root certificate).
func requireVerifiedTLS(primary *tls.Config, fallbacks []*pgconn.FallbackConfig) error {
	const hint = "use sslmode=verify-full with sslrootcert"
	if primary == nil {
		return errors.New("postgres URL does not require TLS (sslmode disable or allow): " + hint)
	}
	for _, fb := range fallbacks {
		if fb.TLSConfig == nil {
			return errors.New("postgres URL allows a plaintext fallback (sslmode prefer, the default): " + hint)
		}
	}
	if primary.InsecureSkipVerify && primary.VerifyPeerCertificate == nil {
		return errors.New("postgres URL does not verify the server certificate (sslmode require): " + hint)
	}
	return nil
}

func tlsOverride(base *tls.Config, host string) *tls.Config {
	c := base.Clone()
	if c.ServerName == "" && !c.InsecureSkipVerify {
		c.ServerName = host
	}
	return c
}

// New uses an existing pool (best built from PoolConfig), checks the AGE
// version, migrates the heimdall schema and makes sure a generation is
// active. Close does not close a pool given to New.
func New(ctx context.Context, pool *pgxpool.Pool, opts ...Option) (*Store, error) {
	o := collect(opts)
	if pool.Config().ConnConfig.TLSConfig == nil {
		return nil, errors.New("opening graph store: the postgres pool does not use TLS")
	}
	s := &Store{pool: pool, log: o.logger, provLimit: o.provLimit, maxRetries: o.maxRetries, durable: o.durable,
		labels: map[int64]*labelCache{}, embedder: embedding.NewNGram(similarityDim)}
	var err error
	if s.conflicts, err = newConflictsCounter(o.registerer); err != nil {
		return nil, err
	}
	if err := s.checkAGE(ctx); err != nil {
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	gen, err := s.bootstrap(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.upgradeLayout(ctx); err != nil {
		return nil, err
	}
	if err := s.checkCypher(ctx, gen.Graph); err != nil {
		return nil, err
	}
	s.log.Info("graph store ready", "age_version", s.ageVersion, "generation", gen.ID, "graph", gen.Graph)
	return s, nil
}

// Close closes the pool if Open created it.
func (s *Store) Close() {
	if s.ownsPool {
		s.pool.Close()
	}
}

// Pool returns the store's connection pool.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// AGEVersion is the version of the age extension in the database.
func (s *Store) AGEVersion() string { return s.ageVersion }

func (s *Store) checkAGE(ctx context.Context) error {
	var v string
	err := s.pool.QueryRow(ctx, "SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'age'").Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return errors.New("checking Apache AGE: the age extension is not installed in this database; an administrator must run CREATE EXTENSION age")
	}
	if err != nil {
		return fmt.Errorf("checking Apache AGE: %w", err)
	}
	if !versionAtLeast(v, MinAGEVersion) {
		return fmt.Errorf("checking Apache AGE: version %s is older than %s", v, MinAGEVersion)
	}
	s.ageVersion = v
	return nil
}

// versionAtLeast compares dotted numeric versions; suffixes after a
// non-digit are ignored.
func versionAtLeast(v, minimum string) bool {
	a, b := versionParts(v), versionParts(minimum)
	for i := range max(len(a), len(b)) {
		x, y := 0, 0
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			return x > y
		}
	}
	return true
}

func versionParts(v string) []int {
	var out []int
	for _, p := range strings.Split(v, ".") {
		end := 0
		for end < len(p) && p[end] >= '0' && p[end] <= '9' {
			end++
		}
		n, _ := strconv.Atoi(p[:end])
		out = append(out, n)
		if end < len(p) {
			break
		}
	}
	return out
}

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.pool.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS heimdall"); err != nil {
		return fmt.Errorf("creating schema heimdall: %w", err)
	}
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return fmt.Errorf("reading embedded migrations: %w", err)
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return fmt.Errorf("creating migration lock: %w", err)
	}
	db := stdlib.OpenDBFromPool(s.pool)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub,
		goose.WithTableName("heimdall.graphstore_migrations"),
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true),
	)
	if err != nil {
		return fmt.Errorf("preparing graph store migrations: %w", err)
	}
	res, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrating graph store schema: %w", err)
	}
	for _, r := range res {
		s.log.Info("graph store migration applied", "version", r.Source.Version, "duration", r.Duration)
	}
	return nil
}

// checkCypher makes sure AGE's Cypher entry point works on this connection
// setup (it needs the library preloaded or loaded per session).
func (s *Store) checkCypher(ctx context.Context, graphName string) error {
	var one string
	q := fmt.Sprintf("SELECT x::text FROM ag_catalog.cypher(%s, $$ RETURN 1 $$) AS (x ag_catalog.agtype)", quoteLiteral(graphName))
	if err := s.pool.QueryRow(ctx, q).Scan(&one); err != nil {
		return fmt.Errorf("checking Cypher on graph %s (is age in shared_preload_libraries? else use WithLoadAGE): %w", graphName, err)
	}
	return nil
}

func quoteIdent(s string) string { return pgx.Identifier{s}.Sanitize() }

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// upgradeLayout applies the additive layout upgrades to every generation that
// is still in use (building or active) with an older layout.
func (s *Store) upgradeLayout(ctx context.Context) error {
	rows, err := s.pool.Query(ctx, `SELECT id, graph_name, layout FROM heimdall.generations
		WHERE state IN ('building', 'active') AND layout < $1`, layoutVersion)
	if err != nil {
		return fmt.Errorf("checking generation layouts: %w", err)
	}
	type old struct {
		id     int64
		name   string
		layout int
	}
	var olds []old
	var o old
	if _, err := pgx.ForEachRow(rows, []any{&o.id, &o.name, &o.layout}, func() error { olds = append(olds, o); return nil }); err != nil {
		return fmt.Errorf("checking generation layouts: %w", err)
	}
	for _, g := range olds {
		for v := g.layout + 1; v <= layoutVersion; v++ {
			for _, stmt := range layoutUpgrades[v] {
				if _, err := s.pool.Exec(ctx, strings.ReplaceAll(stmt, "@graph@", quoteIdent(g.name))); err != nil {
					return fmt.Errorf("upgrading %s to layout %d: %w", g.name, v, err)
				}
			}
		}
		if _, err := s.pool.Exec(ctx, `UPDATE heimdall.generations SET layout = $2 WHERE id = $1`, g.id, layoutVersion); err != nil {
			return fmt.Errorf("upgrading %s: %w", g.name, err)
		}
		s.log.Info("graph generation layout upgraded", "graph", g.name, "from", g.layout, "to", layoutVersion)
	}
	return nil
}
