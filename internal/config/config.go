package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Components a serve process can run.
const (
	ComponentAPI       = "api"
	ComponentIngest    = "ingest"
	ComponentProjector = "projector"
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

	ShutdownTimeout time.Duration
}

// HTTP configures the API listener.
type HTTP struct {
	Addr string
}

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
	EventsTopic       string
	RejectsTopic      string
	Partitions        int32
	ReplicationFactor int16
	ProducerLinger    time.Duration
	MaxBufferedRecs   int
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

// Var documents one environment variable.
type Var struct {
	Name, Default, Help string
}

// Vars lists every variable Load reads, for `heimdall config` and the README.
var Vars = []Var{
	{"HEIMDALL_PEER_ID", "local", "Stable id of this Heimdall instance (origin peer of the events it writes)."},
	{"HEIMDALL_LOG_LEVEL", "info", "debug, info, warn or error."},
	{"HEIMDALL_COMPONENTS", "api,ingest,projector", "Components `heimdall serve` runs in this process."},
	{"HEIMDALL_HTTP_ADDR", "127.0.0.1:8443", "HTTPS listen address of the API."},
	{"HEIMDALL_TLS_CERT_FILE", "", "PEM certificate (chain) of the API; must be CA-signed, not self-signed."},
	{"HEIMDALL_TLS_KEY_FILE", "", "PEM private key of the API certificate."},
	{"HEIMDALL_CA_FILE", "", "PEM CA bundle trusted for Kafka, Postgres and the OIDC provider (system roots if empty)."},
	{"HEIMDALL_KAFKA_BROKERS", "", "Comma-separated TLS bootstrap brokers, host:port."},
	{"HEIMDALL_KAFKA_EVENTS_TOPIC", "heimdall.events", "Event log topic (retention unlimited)."},
	{"HEIMDALL_KAFKA_REJECTS_TOPIC", "heimdall.rejects", "Topic of rejected input records."},
	{"HEIMDALL_KAFKA_PARTITIONS", "6", "Partitions of topics Heimdall creates."},
	{"HEIMDALL_KAFKA_REPLICATION_FACTOR", "1", "Replication factor of topics Heimdall creates (use 3 in production)."},
	{"HEIMDALL_KAFKA_LINGER", "5ms", "Producer linger."},
	{"HEIMDALL_KAFKA_MAX_BUFFERED_RECORDS", "20000", "Producer buffer bound; ingest waits when it is full."},
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
		HTTP:       HTTP{Addr: r.str("HEIMDALL_HTTP_ADDR")},
		TLS: TLS{
			CertFile: r.str("HEIMDALL_TLS_CERT_FILE"),
			KeyFile:  r.str("HEIMDALL_TLS_KEY_FILE"),
			CAFile:   r.str("HEIMDALL_CA_FILE"),
		},
		Kafka: Kafka{
			Brokers:           r.list("HEIMDALL_KAFKA_BROKERS"),
			EventsTopic:       r.str("HEIMDALL_KAFKA_EVENTS_TOPIC"),
			RejectsTopic:      r.str("HEIMDALL_KAFKA_REJECTS_TOPIC"),
			Partitions:        int32(r.intRange("HEIMDALL_KAFKA_PARTITIONS", 1, 10000)),
			ReplicationFactor: int16(r.intRange("HEIMDALL_KAFKA_REPLICATION_FACTOR", 1, 32)),
			ProducerLinger:    r.duration("HEIMDALL_KAFKA_LINGER"),
			MaxBufferedRecs:   r.intRange("HEIMDALL_KAFKA_MAX_BUFFERED_RECORDS", 100, 10_000_000),
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
		ShutdownTimeout: r.duration("HEIMDALL_SHUTDOWN_TIMEOUT"),
	}
	errs := r.errs
	errs = append(errs, c.validate()...)
	return c, errors.Join(errs...)
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
		case ComponentAPI, ComponentIngest, ComponentProjector:
		default:
			bad("HEIMDALL_COMPONENTS", "unknown component %q (want api, ingest, projector)", x)
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
	if c.Kafka.EventsTopic == "" || c.Kafka.RejectsTopic == "" || c.Kafka.EventsTopic == c.Kafka.RejectsTopic {
		bad("HEIMDALL_KAFKA_EVENTS_TOPIC/HEIMDALL_KAFKA_REJECTS_TOPIC", "must be set and differ")
	}
	if c.Runs(ComponentAPI) || c.Runs(ComponentProjector) {
		if err := checkPostgresURL(c.Postgres.URL); err != nil {
			bad("HEIMDALL_POSTGRES_URL", "%v", err)
		}
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

func (r *reader) duration(name string) time.Duration {
	d, err := time.ParseDuration(r.str(name))
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("%s: not a duration (for example 30s)", name))
	}
	return d
}
