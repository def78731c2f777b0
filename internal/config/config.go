package config

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/heimdallhub/heimdall/internal/pii/keys"
	"github.com/heimdallhub/heimdall/internal/rbac"
)

// Components a serve process can run.
const (
	ComponentAPI       = "api"
	ComponentIngest    = "ingest"
	ComponentProjector = "projector"
	ComponentEnricher  = "enricher"
	ComponentSync      = "sync"
)

// Config is Heimdall's whole configuration.
type Config struct {
	PeerID   string
	LogLevel string

	// Components run by `heimdall serve`.
	Components []string

	HTTP     HTTP
	TLS      TLS
	Kafka    Kafka
	Postgres Postgres
	OIDC     OIDC
	Ingest   Ingest
	Project  Projector
	Enrich   Enrich
	Sync     Sync
	PII      PII
	Access   Access
	// Levels are the classification levels, lowest first.
	Levels []string

	ShutdownTimeout time.Duration
	// OTLPTracesURL is the collector's OTLP/HTTP traces endpoint (https).
	OTLPTracesURL string

	// SchemaRegistry is the optional Confluent-compatible schema registry.
	SchemaRegistry SchemaRegistry
}

// SchemaRegistry configures schema-registry mode (schemas/README.md): with a
// URL, Heimdall registers its schemas there and writes the Confluent wire
// format; readers accept both framings either way.
type SchemaRegistry struct {
	URL string // https; empty: no registry, single-object encoding
	// WireFormat is what writers emit with a registry: confluent or
	// single-object (the registry then only resolves schema ids on read).
	WireFormat string
	// BasicAuth is "user:password" for HTTP basic authentication, or empty.
	BasicAuth Secret
}

// Secret is a configuration value that never prints.
type Secret string

// String implements fmt.Stringer without the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString implements fmt.GoStringer without the value.
func (s Secret) GoString() string { return `"` + s.String() + `"` }

// HTTP configures the API listener and its limits per client.
type HTTP struct {
	Addr string
	// ReadHeaderTimeout bounds reading a request's headers.
	ReadHeaderTimeout time.Duration
	// BodyIdleTimeout cuts a request body that sends nothing for this
	// long (an idle time, not a total).
	BodyIdleTimeout time.Duration
	// MaxHeaderBytes bounds a request's headers (431 beyond).
	MaxHeaderBytes int
	// Rates are the per-caller rate limits by route class: decrypt,
	// audit, cypher, ingest.
	Rates map[string]RateLimit
}

// RateLimit is a token bucket per caller: PerSecond requests on average
// (0: no limit), Burst at once.
type RateLimit struct {
	PerSecond float64
	Burst     int
}

// RateClasses are the route classes with a rate limit, each with its
// HEIMDALL_RATE_<CLASS>_PER_SECOND and _BURST.
func RateClasses() []string { return []string{"decrypt", "audit", "cypher", "ingest"} }

// TLS configures certificates: the API's leaf and the CA bundle trusted for
// outgoing connections (Kafka, Postgres, the OIDC provider).
type TLS struct {
	CertFile string
	KeyFile  string
	CAFile   string
}

// Kafka configures the event log.
type Kafka struct {
	Brokers           []string
	Auth              KafkaAuth
	EventsTopic       string
	RejectsTopic      string
	AuditTopic        string
	Partitions        int32
	ReplicationFactor int16
	ProducerLinger    time.Duration
	MaxBufferedRecs   int
	Compression       string
}

// KafkaAuth is how a Heimdall process authenticates to Kafka: a SCRAM
// principal over TLS, or a client certificate (mTLS), or both.
type KafkaAuth struct {
	// Mechanism is SCRAM-SHA-512, SCRAM-SHA-256 or none (certificate only).
	Mechanism      string
	User           string
	Password       Secret
	ClientCertFile string
	ClientKeyFile  string
}

// Postgres configures the read-model database.
type Postgres struct {
	URL      string
	MaxConns int32
}

// OIDC configures token verification.
type OIDC struct {
	Issuer   string
	Audience string
}

// Ingest configures the ingest command's limits.
type Ingest struct {
	ProfilesDir     string
	SpoolDir        string
	MaxDecompressed int64
	MaxBodyBytes    int64
	MaxLineBytes    int
	MaxRejectList   int
}

// Projector configures the projectors.
type Projector struct {
	BatchSize int
	Workers   int
}

// Enrich configures the enrichment worker.
type Enrich struct {
	// ProvidersFile is the providers' YAML (package
	// internal/enrichment/providers); required by the enricher.
	ProvidersFile string
	MaxBacklog    int
	// WorkerID names this worker instance in the job table; stable across
	// restarts (default: host name and peer id).
	WorkerID     string
	Lease        time.Duration
	RecoverEvery time.Duration
}

// Sync configures peer sync (sync/): the export endpoint of the api
// component and the sync component's agent.
type Sync struct {
	// PeersFile is the peers' YAML (sync/exchange.LoadPeers); empty: no
	// peers, nothing exported or imported.
	PeersFile string
	// ClientID and ClientSecret are this peer's OIDC client (client
	// credentials, a role with the peer permission) for pulling.
	ClientID     string
	ClientSecret Secret
	Max          int           // records one pull reads at most
	Wait         time.Duration // long-poll wait at a caught-up exporter
	MaxBackoff   time.Duration // longest pause after failed pulls
	RepairEvery  time.Duration // pause between anti-entropy rounds; 0: none
}

// PII configures the personal-data layer. Keys are parsed and checked by
// Load; their formatting never prints key material.
type PII struct {
	// PolicyFile is the policy YAML; empty means the built-in policy.
	PolicyFile string
	// MasterKey wraps the data keys; PreviousMasterKeys are still accepted
	// to open data keys during a rotation.
	MasterKey          keys.MasterKey
	PreviousMasterKeys []keys.MasterKey
	PseudonymKeys      *keys.PseudonymKeys
	// NationalIDs are the national id schemes the free-text scrubber finds.
	NationalIDs []string
}

// Access maps token claims to permissions and clearance.
type Access struct {
	RoleClaims     []string
	ClearanceClaim string
	Grants         map[string][]rbac.Permission
}

// DefaultGrants are the permissions of the development realm's groups and
// realm roles (deploy/keycloak/heimdall-realm.json).
const DefaultGrants = "heimdall-admin=admin+read+ingest+classify+decrypt;heimdall-analyst=read;heimdall-ingest=ingest;heimdall-peer=peer"

// Var documents one environment variable.
type Var struct {
	Name, Default, Help string
}

// Vars lists every variable Load reads, for `heimdall config` and the README.
var Vars = []Var{
	{"HEIMDALL_PEER_ID", "local", "Stable id of this Heimdall instance (origin peer of the events it writes)."},
	{"HEIMDALL_LOG_LEVEL", "info", "debug, info, warn or error."},
	{"HEIMDALL_COMPONENTS", "api,ingest,projector", "Components `heimdall serve` runs in this process: api, ingest, projector, enricher, sync."},
	{"HEIMDALL_PG_BIN_DIR", "", "Folder of pg_dump, pg_restore and psql matching the server's major version, for `heimdall backup` and `restore` (PATH when empty)."},
	{"HEIMDALL_ENRICH_PROVIDERS", "", "YAML file of the enrichment providers (required by the enricher component; see the README)."},
	{"HEIMDALL_ENRICH_MAX_BACKLOG", "10000", "Pending enrichment jobs at which the enrichment consumer pauses."},
	{"HEIMDALL_ENRICH_WORKER_ID", "", "Stable id of this enrichment worker in the job table (default: host name and peer id)."},
	{"HEIMDALL_ENRICH_LEASE", "5m", "How long a claimed enrichment job is reserved; longer than a call with all its retries."},
	{"HEIMDALL_SYNC_PEERS", "", "YAML file of this peer's sync peers (id, url, server_name, subject, export agreement, paused); see the README. Empty: no peer sync."},
	{"HEIMDALL_SYNC_CLIENT_ID", "", "OIDC client (client_credentials, a role with the peer permission) this peer pulls from its peers as. Required by the sync component."},
	{"HEIMDALL_SYNC_CLIENT_SECRET", "", "Secret. Secret of HEIMDALL_SYNC_CLIENT_ID."},
	{"HEIMDALL_SYNC_MAX_RECORDS", "5000", "Records one pull from a peer reads at most."},
	{"HEIMDALL_SYNC_WAIT", "10s", "How long a pull waits at a caught-up peer for new events (long poll)."},
	{"HEIMDALL_SYNC_MAX_BACKOFF", "30s", "Longest pause between failed pulls from a peer."},
	{"HEIMDALL_SYNC_REPAIR_EVERY", "1h", "Pause between anti-entropy rounds per peer (list the peer's event ids, fetch what never arrived); 0 disables them (`heimdall sync repair PEER` runs one)."},
	{"HEIMDALL_ENRICH_RECOVER_EVERY", "1m", "How often enrichment jobs with an ended lease are put back."},
	{"HEIMDALL_HTTP_ADDR", "127.0.0.1:8443", "HTTPS listen address of the API."},
	{"HEIMDALL_HTTP_READ_HEADER_TIMEOUT", "10s", "Longest time a client may take to send a request's headers."},
	{"HEIMDALL_HTTP_BODY_IDLE_TIMEOUT", "60s", "A request body that sends no byte for this long is cut (an idle time, not a total: a multi-GB upload that keeps sending is never cut)."},
	{"HEIMDALL_HTTP_MAX_HEADER_BYTES", "32768", "Largest request header block; beyond it the answer is 431."},
	{"HEIMDALL_RATE_DECRYPT_PER_SECOND", "2", "Requests per second one caller (token issuer and subject; without a valid token, its IP address) may make to POST /v1/decrypt on average; 0: no limit. Beyond it: 429 with Retry-After, and nothing audited."},
	{"HEIMDALL_RATE_DECRYPT_BURST", "30", "Requests one caller may make to POST /v1/decrypt at once."},
	{"HEIMDALL_RATE_AUDIT_PER_SECOND", "10", "Requests per second one caller may make to GET /v1/audit on average; 0: no limit."},
	{"HEIMDALL_RATE_AUDIT_BURST", "50", "Requests one caller may make to GET /v1/audit at once."},
	{"HEIMDALL_RATE_CYPHER_PER_SECOND", "5", "Requests per second one caller may make to POST /v1/cypher on average; 0: no limit."},
	{"HEIMDALL_RATE_CYPHER_BURST", "20", "Requests one caller may make to POST /v1/cypher at once."},
	{"HEIMDALL_RATE_INGEST_PER_SECOND", "100", "Requests per second one caller may make to POST /v1/ingest on average (agents sharing a client share it); 0: no limit."},
	{"HEIMDALL_RATE_INGEST_BURST", "500", "Requests one caller may make to POST /v1/ingest at once."},
	{"HEIMDALL_TLS_CERT_FILE", "", "PEM certificate (chain) of the API; must be CA-signed, not self-signed."},
	{"HEIMDALL_TLS_KEY_FILE", "", "PEM private key of the API certificate."},
	{"HEIMDALL_CA_FILE", "", "PEM CA bundle trusted for Kafka, Postgres and the OIDC provider (system roots if empty)."},
	{"HEIMDALL_KAFKA_BROKERS", "", "Comma-separated TLS bootstrap brokers, host:port."},
	{"HEIMDALL_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512", "How this process authenticates to Kafka: SCRAM-SHA-512 or SCRAM-SHA-256 (with HEIMDALL_KAFKA_USER and HEIMDALL_KAFKA_PASSWORD), or none (a client certificate alone, mTLS). Heimdall never connects unauthenticated."},
	{"HEIMDALL_KAFKA_USER", "", "Kafka principal (SCRAM user) of this process; see Kafka principals for what each needs."},
	{"HEIMDALL_KAFKA_PASSWORD", "", "Secret. Password of HEIMDALL_KAFKA_USER."},
	{"HEIMDALL_KAFKA_CLIENT_CERT_FILE", "", "PEM client certificate (chain) presented to Kafka (mTLS), alone or with SASL."},
	{"HEIMDALL_KAFKA_CLIENT_KEY_FILE", "", "PEM private key of HEIMDALL_KAFKA_CLIENT_CERT_FILE."},
	{"HEIMDALL_KAFKA_EVENTS_TOPIC", "heimdall.events", "Event log topic (retention unlimited)."},
	{"HEIMDALL_KAFKA_REJECTS_TOPIC", "heimdall.rejects", "Topic of rejected input records."},
	{"HEIMDALL_KAFKA_AUDIT_TOPIC", "heimdall.audit", "Topic of audit events (every decryption; retention unlimited)."},
	{"HEIMDALL_KAFKA_PARTITIONS", "6", "Partitions of topics Heimdall creates."},
	{"HEIMDALL_KAFKA_REPLICATION_FACTOR", "1", "Replication factor of topics Heimdall creates (use 3 in production)."},
	{"HEIMDALL_KAFKA_LINGER", "5ms", "Producer linger."},
	{"HEIMDALL_KAFKA_MAX_BUFFERED_RECORDS", "20000", "Producer buffer bound; ingest waits when it is full."},
	{"HEIMDALL_KAFKA_COMPRESSION", "zstd", "Record batch compression: zstd, lz4, snappy, gzip or none."},
	{"HEIMDALL_POSTGRES_URL", "", "Read-model database URL; must use sslmode=verify-full."},
	{"HEIMDALL_POSTGRES_MAX_CONNS", "10", "Connection pool size."},
	{"HEIMDALL_OIDC_ISSUER", "", "OIDC issuer URL (https) whose tokens the API accepts."},
	{"HEIMDALL_OIDC_AUDIENCE", "heimdall-api", "Audience API access tokens must carry."},
	{"HEIMDALL_INGEST_MAX_BODY_BYTES", "1073741824", "Largest accepted ingest body as sent (compressed or not)."},
	{"HEIMDALL_INGEST_MAX_DECOMPRESSED_BYTES", "17179869184", "Largest decompressed size of a compressed body."},
	{"HEIMDALL_PROFILES_DIR", "", "Folder of your own mapping profiles (*.yaml); a profile named like a built-in one replaces it."},
	{"HEIMDALL_INGEST_SPOOL_DIR", "", "Where asynchronous uploads wait, encrypted with a per-batch in-memory key (system temp dir if empty)."},
	{"HEIMDALL_INGEST_MAX_LINE_BYTES", "1048576", "Longest accepted input line."},
	{"HEIMDALL_INGEST_MAX_REJECT_LIST", "100", "Rejects listed in an ingest response (all go to the rejects topic)."},
	{"HEIMDALL_PROJECTOR_BATCH_SIZE", "5000", "Most records a projector applies in one transaction."},
	{"HEIMDALL_PROJECTOR_WORKERS", "2", "Group members one process runs; partitions are split between them and applied concurrently."},
	{"HEIMDALL_SHUTDOWN_TIMEOUT", "30s", "Grace period for in-flight requests and batches at shutdown."},
	{"HEIMDALL_OTLP_TRACES_URL", "", "OTLP/HTTP traces endpoint of a collector (https://host:4318/v1/traces), TLS 1.3 with HEIMDALL_CA_FILE; empty: spans are not exported."},
	{"HEIMDALL_PII_POLICY", "", "PII policy file (YAML); empty uses the built-in policy (`heimdall pii policy` prints it)."},
	{"HEIMDALL_MASTER_KEY", "", "Secret. Master key wrapping the data keys: base64 of 32+ random bytes (`heimdall keys generate`). Required by the api and ingest components."},
	{"HEIMDALL_MASTER_KEY_PREVIOUS", "", "Secret. Comma-separated previous master keys, still accepted while `heimdall keys rotate` re-wraps the data keys."},
	{"HEIMDALL_PSEUDONYM_KEYS", "", "Secret. Pseudonymisation keys, pk1=<base64>,pk2=<base64>; the highest version signs new pseudonyms. Required by the api and ingest components."},
	{"HEIMDALL_SCRUB_NATIONAL_IDS", "", "National id schemes the free-text scrubber finds: us_ssn, uk_nino, nl_bsn, es_dni."},
	{"HEIMDALL_CLASSIFICATION_LEVELS", "UNCLASSIFIED,CONFIDENTIAL,SECRET,TOP SECRET", "Classification levels, lowest first; the PII policy must list the same. Every process of a deployment must agree."},
	{"HEIMDALL_ROLE_CLAIMS", "groups,realm_access.roles", "Comma-separated claim paths (dots walk objects) whose values are the caller's roles: groups and realm_access.roles as Keycloak issues them, roles for Entra ID app roles, a custom claim for Okta."},
	{"HEIMDALL_CLEARANCE_CLAIM", "clearance", "Claim path of the caller's clearance (UNCLASSIFIED, CONFIDENTIAL, SECRET, TOP SECRET); none: the caller sees nothing classified."},
	{"HEIMDALL_SCHEMA_REGISTRY_URL", "", "Confluent-compatible schema registry (https, TLS 1.3 with HEIMDALL_CA_FILE; a path such as /apis/ccompat/v7 is kept). Set: every schema version is registered (subject = record full name, FULL_TRANSITIVE) and events are written in the Confluent wire format. Empty: the single-object encoding. Readers accept both."},
	{"HEIMDALL_SCHEMA_REGISTRY_WIRE_FORMAT", "confluent", "With a schema registry, the framing written: confluent (0x00 + 4-byte schema id) or single-object (the registry then only resolves the ids of records already written, to switch back)."},
	{"HEIMDALL_SCHEMA_REGISTRY_BASIC_AUTH", "", "Secret. user:password for the schema registry's HTTP basic authentication; empty: none."},
	{"HEIMDALL_ROLE_GRANTS", DefaultGrants, "Permissions per role: role=perm+perm;role=perm. Permissions: ingest, read, classify, decrypt, admin, peer. A role not listed grants nothing."},
}

// Load reads the configuration through lookup (os.LookupEnv in production)
// and validates it. The error joins every problem found.
func Load(lookup func(string) (string, bool)) (Config, error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	r := reader{lookup: lookup, defaults: map[string]string{}}
	for _, v := range Vars {
		r.defaults[v.Name] = v.Default
	}
	c := Config{
		PeerID:     r.str("HEIMDALL_PEER_ID"),
		LogLevel:   r.str("HEIMDALL_LOG_LEVEL"),
		Components: r.list("HEIMDALL_COMPONENTS"),
		HTTP:       r.http(),
		TLS: TLS{
			CertFile: r.str("HEIMDALL_TLS_CERT_FILE"),
			KeyFile:  r.str("HEIMDALL_TLS_KEY_FILE"),
			CAFile:   r.str("HEIMDALL_CA_FILE"),
		},
		Kafka: Kafka{
			Brokers:           r.list("HEIMDALL_KAFKA_BROKERS"),
			Auth:              r.kafkaAuth(),
			EventsTopic:       r.str("HEIMDALL_KAFKA_EVENTS_TOPIC"),
			RejectsTopic:      r.str("HEIMDALL_KAFKA_REJECTS_TOPIC"),
			AuditTopic:        r.str("HEIMDALL_KAFKA_AUDIT_TOPIC"),
			Partitions:        int32(r.intRange("HEIMDALL_KAFKA_PARTITIONS", 1, 10000)),
			ReplicationFactor: int16(r.intRange("HEIMDALL_KAFKA_REPLICATION_FACTOR", 1, 32)),
			ProducerLinger:    r.duration("HEIMDALL_KAFKA_LINGER"),
			MaxBufferedRecs:   r.intRange("HEIMDALL_KAFKA_MAX_BUFFERED_RECORDS", 100, 10_000_000),
			Compression:       r.str("HEIMDALL_KAFKA_COMPRESSION"),
		},
		Postgres: Postgres{
			URL:      r.str("HEIMDALL_POSTGRES_URL"),
			MaxConns: int32(r.intRange("HEIMDALL_POSTGRES_MAX_CONNS", 2, 1000)),
		},
		OIDC: OIDC{
			Issuer:   r.str("HEIMDALL_OIDC_ISSUER"),
			Audience: r.str("HEIMDALL_OIDC_AUDIENCE"),
		},
		Ingest: Ingest{
			ProfilesDir:     r.str("HEIMDALL_PROFILES_DIR"),
			SpoolDir:        r.str("HEIMDALL_INGEST_SPOOL_DIR"),
			MaxDecompressed: int64(r.intRange("HEIMDALL_INGEST_MAX_DECOMPRESSED_BYTES", 1024, 1<<50)),
			MaxBodyBytes:    int64(r.intRange("HEIMDALL_INGEST_MAX_BODY_BYTES", 1024, 1<<50)),
			MaxLineBytes:    r.intRange("HEIMDALL_INGEST_MAX_LINE_BYTES", 1024, 1<<30),
			MaxRejectList:   r.intRange("HEIMDALL_INGEST_MAX_REJECT_LIST", 0, 100000),
		},
		Project: Projector{
			BatchSize: r.intRange("HEIMDALL_PROJECTOR_BATCH_SIZE", 1, 1_000_000),
			Workers:   r.intRange("HEIMDALL_PROJECTOR_WORKERS", 1, 64),
		},
		Enrich: Enrich{
			ProvidersFile: r.str("HEIMDALL_ENRICH_PROVIDERS"),
			MaxBacklog:    r.intRange("HEIMDALL_ENRICH_MAX_BACKLOG", 1, 100_000_000),
			WorkerID:      r.str("HEIMDALL_ENRICH_WORKER_ID"),
			Lease:         r.duration("HEIMDALL_ENRICH_LEASE"),
			RecoverEvery:  r.duration("HEIMDALL_ENRICH_RECOVER_EVERY"),
		},
		Sync: Sync{
			PeersFile:    r.str("HEIMDALL_SYNC_PEERS"),
			ClientID:     r.str("HEIMDALL_SYNC_CLIENT_ID"),
			ClientSecret: Secret(r.str("HEIMDALL_SYNC_CLIENT_SECRET")),
			Max:          r.intRange("HEIMDALL_SYNC_MAX_RECORDS", 1, 50_000),
			Wait:         r.duration("HEIMDALL_SYNC_WAIT"),
			MaxBackoff:   r.duration("HEIMDALL_SYNC_MAX_BACKOFF"),
			RepairEvery:  r.duration("HEIMDALL_SYNC_REPAIR_EVERY"),
		},
		ShutdownTimeout: r.duration("HEIMDALL_SHUTDOWN_TIMEOUT"),
		OTLPTracesURL:   r.str("HEIMDALL_OTLP_TRACES_URL"),
		PII: PII{
			PolicyFile:  r.str("HEIMDALL_PII_POLICY"),
			NationalIDs: r.list("HEIMDALL_SCRUB_NATIONAL_IDS"),
		},
		Access: Access{
			RoleClaims:     r.list("HEIMDALL_ROLE_CLAIMS"),
			ClearanceClaim: r.str("HEIMDALL_CLEARANCE_CLAIM"),
		},
		SchemaRegistry: r.schemaRegistry(),
	}
	for _, l := range strings.Split(r.str("HEIMDALL_CLASSIFICATION_LEVELS"), ",") {
		if l = strings.TrimSpace(l); l != "" {
			c.Levels = append(c.Levels, strings.ToUpper(l))
		}
	}
	if len(c.Levels) == 0 {
		r.errs = append(r.errs, errors.New("HEIMDALL_CLASSIFICATION_LEVELS: names no level"))
	}
	grants, err := rbac.ParseGrants(r.str("HEIMDALL_ROLE_GRANTS"))
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("HEIMDALL_ROLE_GRANTS: %w", err))
	}
	c.Access.Grants = grants
	if c.Enrich.WorkerID == "" {
		host, _ := os.Hostname()
		c.Enrich.WorkerID = host + "/" + c.PeerID
	}
	if c.Runs(ComponentAPI) || c.Runs(ComponentIngest) || c.Runs(ComponentEnricher) {
		r.piiKeys(&c.PII)
	}
	errs := r.errs
	errs = append(errs, c.validate()...)
	return c, errors.Join(errs...)
}

// Keys is what the key administration commands need.
type Keys struct {
	Postgres Postgres
	CAFile   string
	PII      PII
	// Rotation is audited: Kafka for the audit topic, the OIDC audience
	// the operator's token is verified for (LoadClient gives the rest).
	Brokers    []string
	KafkaAuth  KafkaAuth
	AuditTopic string
	Audience   string
	PeerID     string
	// SchemaRegistry frames the audit record as the deployment does.
	SchemaRegistry SchemaRegistry
}

// LoadKeys reads the configuration of `heimdall keys`: the database, the
// CA bundle and the PII keys, each checked as Load checks them.
func LoadKeys(lookup func(string) (string, bool)) (Keys, error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	r := reader{lookup: lookup, defaults: map[string]string{}}
	for _, v := range Vars {
		r.defaults[v.Name] = v.Default
	}
	k := Keys{
		Postgres:   Postgres{URL: r.str("HEIMDALL_POSTGRES_URL"), MaxConns: 2},
		CAFile:     r.str("HEIMDALL_CA_FILE"),
		PII:        PII{PolicyFile: r.str("HEIMDALL_PII_POLICY"), NationalIDs: r.list("HEIMDALL_SCRUB_NATIONAL_IDS")},
		Brokers:    r.list("HEIMDALL_KAFKA_BROKERS"),
		KafkaAuth:  r.kafkaAuth(),
		AuditTopic: r.str("HEIMDALL_KAFKA_AUDIT_TOPIC"),
		Audience:   r.str("HEIMDALL_OIDC_AUDIENCE"),
		PeerID:     r.str("HEIMDALL_PEER_ID"),

		SchemaRegistry: r.schemaRegistry(),
	}
	r.piiKeys(&k.PII)
	if err := checkPostgresURL(k.Postgres.URL); err != nil {
		r.errs = append(r.errs, fmt.Errorf("HEIMDALL_POSTGRES_URL: %w", err))
	}
	return k, errors.Join(r.errs...)
}

// Runs reports whether component is enabled.
func (c Config) Runs(component string) bool {
	for _, x := range c.Components {
		if x == component {
			return true
		}
	}
	return false
}

// ServesHTTP reports whether the process needs the HTTPS listener.
func (c Config) ServesHTTP() bool { return c.Runs(ComponentAPI) || c.Runs(ComponentIngest) }

func (c Config) validate() []error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}
	if !validPeerID(c.PeerID) {
		bad("HEIMDALL_PEER_ID", "must be 1-64 characters of a-z, 0-9, '-', '_' or '.'")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("HEIMDALL_LOG_LEVEL", "must be debug, info, warn or error")
	}
	if len(c.Components) == 0 {
		bad("HEIMDALL_COMPONENTS", "names no component")
	}
	for _, x := range c.Components {
		switch x {
		case ComponentAPI, ComponentIngest, ComponentProjector, ComponentEnricher, ComponentSync:
		default:
			bad("HEIMDALL_COMPONENTS", "unknown component %q (want api, ingest, projector, enricher, sync)", x)
		}
	}
	if c.Sync.PeersFile != "" {
		if _, err := os.Stat(c.Sync.PeersFile); err != nil {
			bad("HEIMDALL_SYNC_PEERS", "cannot read file %s", c.Sync.PeersFile)
		}
	}
	if c.Runs(ComponentSync) {
		if c.Sync.PeersFile == "" {
			bad("HEIMDALL_SYNC_PEERS", "required by the sync component")
		}
		if c.Sync.ClientID == "" || c.Sync.ClientSecret == "" {
			bad("HEIMDALL_SYNC_CLIENT_ID/HEIMDALL_SYNC_CLIENT_SECRET", "required by the sync component")
		}
		if c.Sync.Wait < 0 || c.Sync.Wait > time.Minute || c.Sync.MaxBackoff <= 0 || c.Sync.RepairEvery < 0 {
			bad("HEIMDALL_SYNC_WAIT/HEIMDALL_SYNC_MAX_BACKOFF/HEIMDALL_SYNC_REPAIR_EVERY", "wait must be 0-1m, backoff positive, repair interval not negative")
		}
	}
	if c.Runs(ComponentEnricher) {
		if c.Enrich.ProvidersFile == "" {
			bad("HEIMDALL_ENRICH_PROVIDERS", "required by the enricher component")
		} else if _, err := os.Stat(c.Enrich.ProvidersFile); err != nil {
			bad("HEIMDALL_ENRICH_PROVIDERS", "cannot read file %s", c.Enrich.ProvidersFile)
		}
		if c.Enrich.Lease <= 0 || c.Enrich.RecoverEvery <= 0 {
			bad("HEIMDALL_ENRICH_LEASE/HEIMDALL_ENRICH_RECOVER_EVERY", "must be positive")
		}
	}
	if c.ServesHTTP() {
		if _, _, err := net.SplitHostPort(c.HTTP.Addr); err != nil {
			bad("HEIMDALL_HTTP_ADDR", "not host:port")
		}
		if c.TLS.CertFile == "" {
			bad("HEIMDALL_TLS_CERT_FILE", "required: the API serves HTTPS only")
		}
		if c.TLS.KeyFile == "" {
			bad("HEIMDALL_TLS_KEY_FILE", "required: the API serves HTTPS only")
		}
		if c.OIDC.Issuer == "" {
			bad("HEIMDALL_OIDC_ISSUER", "required")
		} else if u, err := url.Parse(c.OIDC.Issuer); err != nil || u.Scheme != "https" || u.Host == "" {
			bad("HEIMDALL_OIDC_ISSUER", "must be an https URL")
		}
		if c.OIDC.Audience == "" {
			bad("HEIMDALL_OIDC_AUDIENCE", "required")
		}
	}
	for _, f := range []struct{ name, path string }{
		{"HEIMDALL_TLS_CERT_FILE", c.TLS.CertFile},
		{"HEIMDALL_TLS_KEY_FILE", c.TLS.KeyFile},
		{"HEIMDALL_CA_FILE", c.TLS.CAFile},
	} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			bad(f.name, "cannot read file %s", f.path)
		}
	}
	if len(c.Kafka.Brokers) == 0 {
		bad("HEIMDALL_KAFKA_BROKERS", "required")
	}
	for _, b := range c.Kafka.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			bad("HEIMDALL_KAFKA_BROKERS", "%q is not host:port", b)
		}
	}
	if c.Kafka.EventsTopic == "" || c.Kafka.RejectsTopic == "" || c.Kafka.AuditTopic == "" ||
		c.Kafka.EventsTopic == c.Kafka.RejectsTopic || c.Kafka.AuditTopic == c.Kafka.EventsTopic || c.Kafka.AuditTopic == c.Kafka.RejectsTopic {
		bad("HEIMDALL_KAFKA_EVENTS_TOPIC/HEIMDALL_KAFKA_REJECTS_TOPIC/HEIMDALL_KAFKA_AUDIT_TOPIC", "must be set and differ")
	}
	switch c.Kafka.Compression {
	case "zstd", "lz4", "snappy", "gzip", "none":
	default:
		bad("HEIMDALL_KAFKA_COMPRESSION", "must be zstd, lz4, snappy, gzip or none")
	}
	if c.OTLPTracesURL != "" {
		if u, err := url.Parse(c.OTLPTracesURL); err != nil || u.Scheme != "https" || u.Host == "" {
			bad("HEIMDALL_OTLP_TRACES_URL", "must be an https URL")
		}
	}
	if c.PII.PolicyFile != "" {
		if _, err := os.Stat(c.PII.PolicyFile); err != nil {
			bad("HEIMDALL_PII_POLICY", "cannot read file %s", c.PII.PolicyFile)
		}
	}
	// Every component needs the database: the read models, and the
	// wrapped data keys of the PII layer.
	if err := checkPostgresURL(c.Postgres.URL); err != nil {
		bad("HEIMDALL_POSTGRES_URL", "%v", err)
	}
	if c.ShutdownTimeout <= 0 {
		bad("HEIMDALL_SHUTDOWN_TIMEOUT", "must be positive")
	}
	return errs
}

// checkPostgresURL refuses URLs that would allow an unverified or plaintext
// connection. It never echoes the URL: it may hold a password.
func checkPostgresURL(s string) error {
	if s == "" {
		return errors.New("required")
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		return errors.New("must be a postgres:// URL with a host")
	}
	if mode := u.Query().Get("sslmode"); mode != "verify-full" {
		return errors.New("sslmode must be verify-full (TLS with certificate and host verification)")
	}
	return nil
}

func validPeerID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

type reader struct {
	lookup   func(string) (string, bool)
	defaults map[string]string
	errs     []error
}

func (r *reader) str(name string) string {
	if v, ok := r.lookup(name); ok {
		return strings.TrimSpace(v)
	}
	return r.defaults[name]
}

func (r *reader) list(name string) []string {
	var out []string
	for _, p := range strings.Split(r.str(name), ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// kafkaAuth reads and checks how the process authenticates to Kafka.
func (r *reader) kafkaAuth() KafkaAuth {
	a := KafkaAuth{
		Mechanism:      strings.ToUpper(r.str("HEIMDALL_KAFKA_SASL_MECHANISM")),
		User:           r.str("HEIMDALL_KAFKA_USER"),
		Password:       Secret(r.str("HEIMDALL_KAFKA_PASSWORD")),
		ClientCertFile: r.str("HEIMDALL_KAFKA_CLIENT_CERT_FILE"),
		ClientKeyFile:  r.str("HEIMDALL_KAFKA_CLIENT_KEY_FILE"),
	}
	if (a.ClientCertFile == "") != (a.ClientKeyFile == "") {
		r.errs = append(r.errs, errors.New("HEIMDALL_KAFKA_CLIENT_CERT_FILE/HEIMDALL_KAFKA_CLIENT_KEY_FILE: set both or neither"))
	}
	switch a.Mechanism {
	case "SCRAM-SHA-512", "SCRAM-SHA-256":
		if a.User == "" || a.Password == "" {
			r.errs = append(r.errs, fmt.Errorf("HEIMDALL_KAFKA_USER/HEIMDALL_KAFKA_PASSWORD: required with HEIMDALL_KAFKA_SASL_MECHANISM=%s", a.Mechanism))
		}
	case "NONE":
		a.Mechanism = "none"
		if a.ClientCertFile == "" {
			r.errs = append(r.errs, errors.New("HEIMDALL_KAFKA_SASL_MECHANISM=none: a client certificate (HEIMDALL_KAFKA_CLIENT_CERT_FILE) is then required; Heimdall never connects to Kafka unauthenticated"))
		}
	default:
		r.errs = append(r.errs, errors.New("HEIMDALL_KAFKA_SASL_MECHANISM: must be SCRAM-SHA-512, SCRAM-SHA-256 or none"))
	}
	return a
}

// http reads the API listener's address and limits.
func (r *reader) http() HTTP {
	h := HTTP{
		Addr:              r.str("HEIMDALL_HTTP_ADDR"),
		ReadHeaderTimeout: r.duration("HEIMDALL_HTTP_READ_HEADER_TIMEOUT"),
		BodyIdleTimeout:   r.duration("HEIMDALL_HTTP_BODY_IDLE_TIMEOUT"),
		MaxHeaderBytes:    r.intRange("HEIMDALL_HTTP_MAX_HEADER_BYTES", 4096, 1<<20),
		Rates:             map[string]RateLimit{},
	}
	if h.ReadHeaderTimeout <= 0 {
		r.errs = append(r.errs, errors.New("HEIMDALL_HTTP_READ_HEADER_TIMEOUT: must be positive"))
	}
	if h.BodyIdleTimeout <= 0 {
		r.errs = append(r.errs, errors.New("HEIMDALL_HTTP_BODY_IDLE_TIMEOUT: must be positive"))
	}
	for _, class := range RateClasses() {
		name := "HEIMDALL_RATE_" + strings.ToUpper(class)
		h.Rates[class] = RateLimit{
			PerSecond: r.floatRange(name+"_PER_SECOND", 0, 1e6),
			Burst:     r.intRange(name+"_BURST", 1, 1_000_000),
		}
	}
	return h
}

func (r *reader) floatRange(name string, lo, hi float64) float64 {
	f, err := strconv.ParseFloat(r.str(name), 64)
	if err != nil || math.IsNaN(f) {
		r.errs = append(r.errs, fmt.Errorf("%s: not a number", name))
		return 0
	}
	if f < lo || f > hi {
		r.errs = append(r.errs, fmt.Errorf("%s: must be between %g and %g", name, lo, hi))
	}
	return f
}

func (r *reader) intRange(name string, lo, hi int) int {
	s := r.str(name)
	n, err := strconv.Atoi(s)
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("%s: not an integer", name))
		return 0
	}
	if n < lo || n > hi {
		r.errs = append(r.errs, fmt.Errorf("%s: must be between %d and %d", name, lo, hi))
	}
	return n
}

// piiKeys reads and checks the PII keys; a missing or weak key is an error
// that names the variable, never its value.
func (r *reader) piiKeys(p *PII) {
	master, err := keys.FromEnv(r.lookup, "HEIMDALL_MASTER_KEY")
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("HEIMDALL_MASTER_KEY: %w (generate one with `heimdall keys generate`)", err))
	} else {
		p.MasterKey, _ = master.MasterKey(context.Background())
	}
	if raw, ok := r.lookup("HEIMDALL_MASTER_KEY_PREVIOUS"); ok && strings.TrimSpace(raw) != "" {
		for i, part := range strings.Split(raw, ",") {
			src, err := keys.NewEnvSource(fmt.Sprintf("HEIMDALL_MASTER_KEY_PREVIOUS entry %d", i+1), part)
			if err != nil {
				r.errs = append(r.errs, err)
				continue
			}
			k, _ := src.MasterKey(context.Background())
			p.PreviousMasterKeys = append(p.PreviousMasterKeys, k)
		}
	}
	raw, ok := r.lookup("HEIMDALL_PSEUDONYM_KEYS")
	if !ok {
		r.errs = append(r.errs, fmt.Errorf("HEIMDALL_PSEUDONYM_KEYS: %w: not set (pk1=<base64 of 32+ random bytes>)", keys.ErrMissingKey))
		return
	}
	ps, err := keys.ParsePseudonymKeys("HEIMDALL_PSEUDONYM_KEYS", raw)
	if err != nil {
		r.errs = append(r.errs, err)
		return
	}
	p.PseudonymKeys = ps
}

// schemaRegistry reads and checks the schema registry variables; errors
// never quote the URL or the credentials.
func (r *reader) schemaRegistry() SchemaRegistry {
	s := SchemaRegistry{
		URL:        r.str("HEIMDALL_SCHEMA_REGISTRY_URL"),
		WireFormat: r.str("HEIMDALL_SCHEMA_REGISTRY_WIRE_FORMAT"),
		BasicAuth:  Secret(r.str("HEIMDALL_SCHEMA_REGISTRY_BASIC_AUTH")),
	}
	if s.URL != "" {
		if u, err := url.Parse(s.URL); err != nil || u.Scheme != "https" || u.Host == "" {
			r.errs = append(r.errs, errors.New("HEIMDALL_SCHEMA_REGISTRY_URL: must be an https URL"))
		} else if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			r.errs = append(r.errs, errors.New("HEIMDALL_SCHEMA_REGISTRY_URL: must have no user info, query or fragment (credentials go in HEIMDALL_SCHEMA_REGISTRY_BASIC_AUTH)"))
		}
	}
	switch s.WireFormat {
	case "confluent", "single-object":
	default:
		r.errs = append(r.errs, errors.New("HEIMDALL_SCHEMA_REGISTRY_WIRE_FORMAT: must be confluent or single-object"))
	}
	if s.BasicAuth != "" {
		if s.URL == "" {
			r.errs = append(r.errs, errors.New("HEIMDALL_SCHEMA_REGISTRY_BASIC_AUTH: set without HEIMDALL_SCHEMA_REGISTRY_URL"))
		} else if !strings.Contains(string(s.BasicAuth), ":") {
			r.errs = append(r.errs, errors.New("HEIMDALL_SCHEMA_REGISTRY_BASIC_AUTH: must be user:password"))
		}
	}
	return s
}

func (r *reader) duration(name string) time.Duration {
	d, err := time.ParseDuration(r.str(name))
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("%s: not a duration (for example 30s)", name))
	}
	return d
}
