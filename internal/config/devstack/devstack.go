package devstack

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	idpconfig "github.com/heimdallhub/heimdall/deploy/idp/config"
)

// Environment variables written to .stack/env by `make stack-up`.
const (
	EnvOIDCIssuer       = "HEIMDALL_OIDC_ISSUER"
	EnvCAFile           = "HEIMDALL_CA_FILE"
	EnvPostgresURL      = "HEIMDALL_POSTGRES_URL"
	EnvPostgresAdminURL = "HEIMDALL_POSTGRES_ADMIN_URL"
	EnvKafkaBrokers     = "HEIMDALL_KAFKA_BROKERS"
	EnvTLSCertFile      = "HEIMDALL_TLS_CERT_FILE"
	EnvTLSKeyFile       = "HEIMDALL_TLS_KEY_FILE"
	EnvStackDir         = "HEIMDALL_STACK_DIR"
	// EnvIDPConfig optionally overrides the provider configuration file
	// (default: deploy/idp/config.yaml under the module root).
	EnvIDPConfig = "HEIMDALL_IDP_CONFIG"
)

// Names in deploy/idp/config.yaml.
const (
	// APIAudience is the audience of every access token the provider issues.
	APIAudience = "heimdall-api"

	// ClientWeb is the user-facing public client (code flow + PKCE).
	ClientWeb = "heimdall-web"
	// ClientCLI is the tools' and tests' client_credentials client
	// (groups heimdall-admin and heimdall-ingest, clearance TOP SECRET).
	ClientCLI = "heimdall-cli"
	// ClientPeer is the peer-sync client_credentials client (group heimdall-peer).
	ClientPeer = "heimdall-peer"
	// ClientPeer2 and ClientPeer3 are two more peer clients (group
	// heimdall-peer), for tests with three sites.
	ClientPeer2 = "heimdall-peer-2"
	ClientPeer3 = "heimdall-peer-3"
	// ClientNoPerm authenticates but has no groups and no clearance.
	ClientNoPerm = "heimdall-noperm"

	// UserAlice: group heimdall-admin, clearance TOP SECRET.
	UserAlice = "alice"
	// UserBob: group heimdall-analyst, clearance CONFIDENTIAL.
	UserBob = "bob"
	// UserCarol: group heimdall-ingest, clearance UNCLASSIFIED.
	UserCarol = "carol"

	// Groups used in the configuration.
	GroupAdmin   = "heimdall-admin"
	GroupAnalyst = "heimdall-analyst"
	GroupIngest  = "heimdall-ingest"
	GroupPeer    = "heimdall-peer"

	// WebRedirectURI is the loopback redirect URI UserToken uses; the
	// provider redirects there with the code, and nothing needs to listen.
	WebRedirectURI = "http://127.0.0.1/callback"

	// IDPConfigPath is the provider configuration, relative to the module root.
	IDPConfigPath = "deploy/idp/config.yaml"
)

// stackUpHint is the remedy printed when the stack is not available.
const stackUpHint = "run `make stack-up` and source .stack/env"

// Stack is the development stack's settings.
type Stack struct {
	// OIDCIssuer is the development OpenID Provider's issuer URL.
	OIDCIssuer string
	// CAFile is the development CA certificate (PEM).
	CAFile string
	// PostgresURL is the application's connection string.
	PostgresURL string
	// PostgresAdminURL is the superuser connection string (may be empty).
	PostgresAdminURL string
	// KafkaBrokers are the broker addresses (TLS).
	KafkaBrokers []string
	// TLSCertFile and TLSKeyFile are a server leaf certificate for Heimdall
	// listeners under test (may be empty).
	TLSCertFile string
	TLSKeyFile  string
	// Dir is the stack's state directory (.stack).
	Dir string
	// IDPConfigFile is the provider's configuration file.
	IDPConfigFile string

	roots *x509.CertPool
}

// Env reads the stack's settings from the HEIMDALL_* environment variables.
// It fails the test when the essential ones (issuer, CA, stack dir,
// Postgres URL, Kafka brokers) are missing or the CA does not load.
func Env(t testing.TB) Stack {
	t.Helper()
	return FromLookup(t, os.LookupEnv)
}

// FromLookup is Env with another source of variables.
func FromLookup(t testing.TB, lookup func(string) (string, bool)) Stack {
	t.Helper()
	get := func(name string) string {
		v, _ := lookup(name)
		return strings.TrimSpace(v)
	}
	s := Stack{
		OIDCIssuer:       strings.TrimSuffix(get(EnvOIDCIssuer), "/"),
		CAFile:           get(EnvCAFile),
		PostgresURL:      get(EnvPostgresURL),
		PostgresAdminURL: get(EnvPostgresAdminURL),
		KafkaBrokers:     splitList(get(EnvKafkaBrokers)),
		TLSCertFile:      get(EnvTLSCertFile),
		TLSKeyFile:       get(EnvTLSKeyFile),
		Dir:              get(EnvStackDir),
		IDPConfigFile:    get(EnvIDPConfig),
	}
	var missing []string
	for _, v := range []struct {
		name string
		set  bool
	}{
		{EnvOIDCIssuer, s.OIDCIssuer != ""},
		{EnvCAFile, s.CAFile != ""},
		{EnvStackDir, s.Dir != ""},
		{EnvPostgresURL, s.PostgresURL != ""},
		{EnvKafkaBrokers, len(s.KafkaBrokers) > 0},
	} {
		if !v.set {
			missing = append(missing, v.name)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("development stack not configured: %s unset; %s", strings.Join(missing, ", "), stackUpHint)
	}
	roots, err := loadCA(s.CAFile)
	if err != nil {
		t.Fatalf("development stack: %v; %s", err, stackUpHint)
	}
	s.roots = roots
	return s
}

// TLSConfig is a client TLS configuration for the stack's services: TLS 1.3
// only, trusting the development CA alone. A Stack not made by Env loads
// CAFile here; if that fails the pool is empty and every handshake fails.
func (s Stack) TLSConfig() *tls.Config {
	roots := s.roots
	if roots == nil {
		var err error
		if roots, err = loadCA(s.CAFile); err != nil {
			roots = x509.NewCertPool()
		}
	}
	return &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: roots}
}

// ServerTLSConfig is a TLS 1.3 server configuration with the stack's leaf
// certificate (HEIMDALL_TLS_CERT_FILE / HEIMDALL_TLS_KEY_FILE), for Heimdall
// listeners started by tests.
func (s Stack) ServerTLSConfig(t testing.TB) *tls.Config {
	t.Helper()
	if s.TLSCertFile == "" || s.TLSKeyFile == "" {
		t.Fatalf("development stack: %s and %s unset; %s", EnvTLSCertFile, EnvTLSKeyFile, stackUpHint)
	}
	cert, err := tls.LoadX509KeyPair(s.TLSCertFile, s.TLSKeyFile)
	if err != nil {
		t.Fatalf("development stack: load server certificate: %v", err)
	}
	return &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert}}
}

// HTTPClient is an HTTPS client for the stack (see TLSConfig).
func (s Stack) HTTPClient() *http.Client {
	return &http.Client{Transport: s.transport(), Timeout: 30 * time.Second}
}

// transports caches one transport per CA file, so clients share connections.
var transports sync.Map // CA file -> *http.Transport

func (s Stack) transport() *http.Transport {
	if tr, ok := transports.Load(s.CAFile); ok && s.CAFile != "" {
		return tr.(*http.Transport)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = s.TLSConfig()
	tr.Proxy = nil
	if s.CAFile == "" {
		return tr
	}
	actual, _ := transports.LoadOrStore(s.CAFile, tr)
	return actual.(*http.Transport)
}

func loadCA(path string) (*x509.CertPool, error) {
	if path == "" {
		return nil, errors.New("no CA file")
	}
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA file %s: no PEM certificate", path)
	}
	return pool, nil
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// IDPConfig returns the provider's configuration (clients, secrets, users).
func (s Stack) IDPConfig(t testing.TB) *idpconfig.Config {
	t.Helper()
	cfg, err := s.idpConfig()
	if err != nil {
		t.Fatalf("development stack: %v", err)
	}
	return cfg
}

var idpConfigCache sync.Map // path -> *idpconfig.Config

func (s Stack) idpConfig() (*idpconfig.Config, error) {
	path := s.IDPConfigFile
	if path == "" {
		root, err := ModuleRoot()
		if err != nil {
			return nil, err
		}
		path = filepath.Join(root, IDPConfigPath)
	}
	if cfg, ok := idpConfigCache.Load(path); ok {
		return cfg.(*idpconfig.Config), nil
	}
	cfg, err := idpconfig.Load(path)
	if err != nil {
		return nil, err
	}
	idpConfigCache.Store(path, cfg)
	return cfg, nil
}

// ClientSecret returns a client's secret from the provider configuration.
func (s Stack) ClientSecret(t testing.TB, clientID string) string {
	t.Helper()
	c, ok := s.IDPConfig(t).Client(clientID)
	if !ok || c.Secret == "" {
		t.Fatalf("development stack: no confidential client %q in %s", clientID, IDPConfigPath)
	}
	return c.Secret
}

// UserPassword returns a user's password from the provider configuration.
func (s Stack) UserPassword(t testing.TB, username string) string {
	t.Helper()
	u, ok := s.IDPConfig(t).UserByName(username)
	if !ok {
		t.Fatalf("development stack: no user %q in %s", username, IDPConfigPath)
	}
	return u.Password
}

// ModuleRoot returns the directory of the go.mod found by walking up from
// the working directory.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find module root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find module root: no go.mod above the working directory")
		}
		dir = parent
	}
}
