package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// dialTimeout bounds every connection attempt and handshake in these tests.
const dialTimeout = 10 * time.Second

// stackEnv returns a HEIMDALL_* variable written by deploy/stack.sh into .stack/env, or fails the
// test: these tests exist to prove the real stack, so a missing stack is a failure, not a skip.
func stackEnv(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set: start the development stack with `make stack-up` (deploy/stack.sh up) "+
			"and run the tests with its environment (. .stack/env)", name)
	}
	return v
}

// requireStack skips only in -short mode; otherwise the stack must be there.
func requireStack(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: skipping a test that needs the running development stack")
	}
}

// devCAPool is the development CA that issued every listener's certificate.
func devCAPool(t testing.TB) *x509.CertPool {
	t.Helper()
	file := stackEnv(t, "HEIMDALL_CA_FILE")
	pem, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("read the development CA: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("%s holds no PEM certificate", file)
	}
	return pool
}

// hostPortFromEnv reads a host:port variable (the first of a comma-separated list).
func hostPortFromEnv(name string) func(testing.TB) string {
	return func(t testing.TB) string {
		t.Helper()
		v := strings.TrimSpace(strings.Split(stackEnv(t, name), ",")[0])
		if _, _, err := net.SplitHostPort(v); err != nil {
			t.Fatalf("%s=%q is not host:port: %v", name, v, err)
		}
		return v
	}
}

// hostPortFromURLEnv reads the host:port of a URL variable (postgres://..., https://...).
func hostPortFromURLEnv(name string) func(testing.TB) string {
	return func(t testing.TB) string {
		t.Helper()
		u, err := url.Parse(stackEnv(t, name))
		if err != nil {
			t.Fatalf("%s is not a URL: %v", name, err)
		}
		if u.Port() == "" {
			t.Fatalf("%s has no explicit port", name)
		}
		return u.Host
	}
}

// tlsListener is one TLS-only listener of the stack. To cover another listener (the Heimdall API),
// add a row to stackListeners.
type tlsListener struct {
	name string
	// addr returns host:port; the host is also the name verified against the certificate.
	addr func(testing.TB) string
	// preamble runs on the plain TCP connection before the TLS handshake (Postgres's SSLRequest).
	preamble func(net.Conn) error
	// refusesPlaintext asserts that a client speaking the protocol without TLS gets nowhere.
	refusesPlaintext func(t *testing.T, addr string)
}

func stackListeners() []tlsListener {
	return []tlsListener{
		{
			name:             "postgres",
			addr:             hostPortFromURLEnv("HEIMDALL_POSTGRES_URL"),
			preamble:         postgresSSLRequest,
			refusesPlaintext: postgresRefusesPlaintext,
		},
		{
			name:             "kafka-broker",
			addr:             hostPortFromEnv("HEIMDALL_KAFKA_BROKERS"),
			refusesPlaintext: kafkaRefusesPlaintext,
		},
		{
			name:             "kafka-controller",
			addr:             hostPortFromEnv("HEIMDALL_KAFKA_CONTROLLER"),
			refusesPlaintext: kafkaRefusesPlaintext,
		},
		{
			name:             "kafka-mtls",
			addr:             hostPortFromEnv("HEIMDALL_KAFKA_MTLS_BROKERS"),
			refusesPlaintext: kafkaRefusesPlaintext,
		},
		{
			name:             "keycloak",
			addr:             hostPortFromURLEnv("HEIMDALL_OIDC_ISSUER"),
			refusesPlaintext: httpRefusesPlaintext,
		},
	}
}

// dialTCP connects or fails the test: an unreachable listener is a broken stack, and must never
// pass as "the handshake was refused".
func dialTCP(t testing.TB, addr string) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, dialTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v (is the stack up? `make stack-up`)", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.SetDeadline(time.Now().Add(dialTimeout)); err != nil {
		t.Fatal(err)
	}
	return conn
}

// tlsHandshake dials l, runs its preamble and a TLS handshake with cfg (ServerName defaults to the
// address's host). It returns the handshake's result; transport failures before it fail the test.
func tlsHandshake(t testing.TB, l tlsListener, cfg *tls.Config) (tls.ConnectionState, error) {
	t.Helper()
	addr := l.addr(t)
	host, _, _ := net.SplitHostPort(addr)
	conn := dialTCP(t, addr)
	if l.preamble != nil {
		if err := l.preamble(conn); err != nil {
			t.Fatalf("%s: before TLS: %v", l.name, err)
		}
	}
	cfg = cfg.Clone()
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	tc := tls.Client(conn, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	defer cancel()
	err := tc.HandshakeContext(ctx)
	return tc.ConnectionState(), err
}

// postgresSSLRequest sends the 8-byte SSLRequest (length 8, code 80877103) and expects 'S'.
func postgresSSLRequest(conn net.Conn) error {
	var msg [8]byte
	binary.BigEndian.PutUint32(msg[0:4], 8)
	binary.BigEndian.PutUint32(msg[4:8], 80877103)
	if _, err := conn.Write(msg[:]); err != nil {
		return fmt.Errorf("send SSLRequest: %w", err)
	}
	var reply [1]byte
	if _, err := io.ReadFull(conn, reply[:]); err != nil {
		return fmt.Errorf("read SSLRequest reply: %w", err)
	}
	if reply[0] != 'S' {
		return fmt.Errorf("SSLRequest answered %q, want 'S'", reply[0])
	}
	return nil
}

// postgresRefusesPlaintext connects with a real client (pgx) and sslmode=disable, with the right
// password: pg_hba.conf must reject it.
func postgresRefusesPlaintext(t *testing.T, addr string) {
	u, err := url.Parse(stackEnv(t, "HEIMDALL_POSTGRES_URL"))
	if err != nil {
		t.Fatal(err)
	}
	u.Host = addr
	q := u.Query()
	q.Set("sslmode", "disable")
	q.Del("sslrootcert")
	q.Set("connect_timeout", "10")
	u.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, u.String())
	if err == nil {
		conn.Close(ctx)
		t.Fatal("a plaintext (sslmode=disable) connection was accepted")
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		t.Fatalf("plaintext connection failed, but not with a server error (is Postgres up?): %v", err)
	}
	if pgErr.Code != "28000" { // invalid_authorization_specification: the pg_hba.conf reject
		t.Fatalf("plaintext connection refused with SQLSTATE %s, want 28000 (pg_hba.conf reject): %v", pgErr.Code, err)
	}
	t.Logf("plaintext refused: %v", pgErr.Message)
}

// kafkaRefusesPlaintext sends a plaintext ApiVersions v0 request and asserts no valid response.
func kafkaRefusesPlaintext(t *testing.T, addr string) {
	conn := dialTCP(t, addr)
	const correlationID = 0x4845494d // "HEIM"
	clientID := "heimdall-e2e"
	body := make([]byte, 0, 64)
	body = binary.BigEndian.AppendUint16(body, 18) // ApiVersions
	body = binary.BigEndian.AppendUint16(body, 0)  // version 0
	body = binary.BigEndian.AppendUint32(body, correlationID)
	body = binary.BigEndian.AppendUint16(body, uint16(len(clientID)))
	body = append(body, clientID...)
	req := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
	req = append(req, body...)
	if _, err := conn.Write(req); err != nil {
		t.Logf("plaintext write refused: %v", err)
		return
	}
	var hdr [10]byte // size, correlation id, error code
	n, err := io.ReadFull(conn, hdr[:])
	if err != nil {
		t.Logf("plaintext ApiVersions got %d bytes, then %v", n, err)
		return
	}
	if binary.BigEndian.Uint32(hdr[4:8]) == correlationID && binary.BigEndian.Uint16(hdr[8:10]) == 0 {
		t.Fatalf("a plaintext ApiVersions request got a valid Kafka response: % x", hdr[:])
	}
	t.Logf("plaintext ApiVersions got no valid response (% x)", hdr[:])
}

// httpRefusesPlaintext sends a plain HTTP request: it must not get a 200.
func httpRefusesPlaintext(t *testing.T, addr string) {
	client := &http.Client{Timeout: dialTimeout}
	resp, err := client.Get("http://" + addr + "/.well-known/openid-configuration")
	if err != nil {
		t.Logf("plain HTTP refused: %v", err)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Fatalf("plain HTTP got %s", resp.Status)
	}
	t.Logf("plain HTTP got %s", resp.Status)
}

// TestListenerTLS13WithDevCA: a TLS 1.3 client that trusts only the development CA completes the
// handshake, and the server's certificate is a CA-signed leaf (not self-signed) valid for the host.
func TestListenerTLS13WithDevCA(t *testing.T) {
	requireStack(t)
	roots := devCAPool(t)
	for _, l := range stackListeners() {
		t.Run(l.name, func(t *testing.T) {
			state, err := tlsHandshake(t, l, &tls.Config{
				RootCAs:    roots,
				MinVersion: tls.VersionTLS13,
			})
			if err != nil {
				t.Fatalf("TLS 1.3 handshake with the dev CA failed: %v", err)
			}
			if state.Version != tls.VersionTLS13 {
				t.Fatalf("negotiated %s, want TLS 1.3", tls.VersionName(state.Version))
			}
			if len(state.VerifiedChains) == 0 || len(state.VerifiedChains[0]) < 2 {
				t.Fatalf("no verified chain through the development CA")
			}
			leaf := state.PeerCertificates[0]
			if leaf.IsCA || leaf.CheckSignatureFrom(leaf) == nil {
				t.Fatalf("server certificate %q is self-signed or a CA", leaf.Subject)
			}
		})
	}
}

// TestListenerRefusesTLS12: a client limited to TLS 1.2 cannot complete the handshake.
func TestListenerRefusesTLS12(t *testing.T) {
	requireStack(t)
	roots := devCAPool(t)
	for _, l := range stackListeners() {
		t.Run(l.name, func(t *testing.T) {
			state, err := tlsHandshake(t, l, &tls.Config{
				RootCAs:    roots,
				MinVersion: tls.VersionTLS12,
				MaxVersion: tls.VersionTLS12,
			})
			if err == nil {
				t.Fatalf("a TLS 1.2-only client completed a handshake (%s)", tls.VersionName(state.Version))
			}
			t.Logf("TLS 1.2 refused: %v", err)
		})
	}
}

// TestListenerRefusesPlaintext: a client that speaks the listener's protocol without TLS gets
// refused (Postgres), no valid response (Kafka) or no 200 (HTTPS).
func TestListenerRefusesPlaintext(t *testing.T) {
	requireStack(t)
	for _, l := range stackListeners() {
		t.Run(l.name, func(t *testing.T) {
			l.refusesPlaintext(t, l.addr(t))
		})
	}
}

// TestStackPostgresAppRoleUsesAGEAndVector: the non-superuser app role, in a database it creates
// itself from template1, can use Apache AGE (graph, labels, indexes, cypher) and pgvector.
func TestStackPostgresAppRoleUsesAGEAndVector(t *testing.T) {
	requireStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	appURL := stackEnv(t, "HEIMDALL_POSTGRES_URL")
	conn, err := pgx.Connect(ctx, appURL)
	if err != nil {
		t.Fatalf("connect as the app role: %v", err)
	}
	defer conn.Close(ctx)
	var super bool
	if err := conn.QueryRow(ctx, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&super); err != nil {
		t.Fatal(err)
	}
	if super {
		t.Fatal("the app role is a superuser; it must not be")
	}
	db := fmt.Sprintf("e2e_age_%d", time.Now().UnixNano())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		t.Fatalf("CREATE DATABASE as the app role: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, appURL)
		if err != nil {
			t.Errorf("cleanup connect: %v", err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)"); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	cfg, err := pgx.ParseConfig(appURL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Database = db
	gc, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("connect to %s: %v", db, err)
	}
	defer gc.Close(ctx)
	for _, stmt := range []string{
		`SET search_path = ag_catalog, "$user", public`,
		`SELECT create_graph('e2e')`,
		`SELECT create_vlabel('e2e', 'Person')`,
		`SELECT create_elabel('e2e', 'KNOWS')`,
		`INSERT INTO e2e."Person" (properties) VALUES ('{"name": "ann"}'::agtype)`,
		`CREATE INDEX ON e2e."Person" USING gin (properties)`,
		`SELECT * FROM cypher('e2e', $$ MATCH (a:Person {name: 'ann'}) CREATE (a)-[:KNOWS]->(:Person {name: 'bob'}) $$) AS (r agtype)`,
		`CREATE TABLE public.emb (id int PRIMARY KEY, v vector(3))`,
		`INSERT INTO public.emb VALUES (1, '[1,2,3]'), (2, '[3,2,1]')`,
		`CREATE INDEX ON public.emb USING hnsw (v vector_l2_ops)`,
	} {
		if _, err := gc.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	var name string
	if err := gc.QueryRow(ctx, `SELECT b::text FROM cypher('e2e', $$ MATCH (:Person)-[:KNOWS]->(b:Person) RETURN b.name $$) AS (b agtype)`).Scan(&name); err != nil {
		t.Fatalf("cypher MATCH: %v", err)
	}
	if strings.Trim(name, `"`) != "bob" {
		t.Fatalf("cypher MATCH returned %s, want bob", name)
	}
	var id int
	if err := gc.QueryRow(ctx, `SELECT id FROM public.emb ORDER BY v <-> '[1,2,4]' LIMIT 1`).Scan(&id); err != nil {
		t.Fatalf("vector query: %v", err)
	}
	if id != 1 {
		t.Fatalf("nearest vector id %d, want 1", id)
	}
}
