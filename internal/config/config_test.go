package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestLoadReportsEveryProblem(t *testing.T) {
	_, err := Load(env(map[string]string{
		"HEIMDALL_PEER_ID":          "Bad Peer!",
		"HEIMDALL_LOG_LEVEL":        "loud",
		"HEIMDALL_KAFKA_PARTITIONS": "many",
		"HEIMDALL_POSTGRES_URL":     "postgres://u:secretpw@db/heimdall?sslmode=disable",
		"HEIMDALL_OIDC_ISSUER":      "http://idp",
	}))
	if err == nil {
		t.Fatal("invalid configuration accepted")
	}
	msg := err.Error()
	for _, want := range []string{"HEIMDALL_PEER_ID", "HEIMDALL_LOG_LEVEL", "HEIMDALL_KAFKA_PARTITIONS",
		"HEIMDALL_POSTGRES_URL", "HEIMDALL_OIDC_ISSUER", "HEIMDALL_TLS_CERT_FILE", "HEIMDALL_KAFKA_BROKERS"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not mention %s:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "secretpw") {
		t.Error("error echoes the database password")
	}
}

func TestLoadValid(t *testing.T) {
	dir := t.TempDir()
	cert := filepath.Join(dir, "c.pem")
	if err := os.WriteFile(cert, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(env(map[string]string{
		"HEIMDALL_TLS_CERT_FILE": cert,
		"HEIMDALL_TLS_KEY_FILE":  cert,
		"HEIMDALL_KAFKA_BROKERS": "localhost:59092, localhost:59094",
		"HEIMDALL_POSTGRES_URL":  "postgres://u:p@localhost:5432/h?sslmode=verify-full",
		"HEIMDALL_OIDC_ISSUER":   "https://localhost:58443",
		"HEIMDALL_COMPONENTS":    "projector,api",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Kafka.Brokers) != 2 || !c.Runs(ComponentAPI) || c.Runs(ComponentIngest) || c.Kafka.Partitions != 6 {
		t.Fatalf("%+v", c)
	}
}

func TestProjectorAloneNeedsNoHTTP(t *testing.T) {
	_, err := Load(env(map[string]string{
		"HEIMDALL_KAFKA_BROKERS": "localhost:59092",
		"HEIMDALL_POSTGRES_URL":  "postgres://u:p@localhost:5432/h?sslmode=verify-full",
		"HEIMDALL_COMPONENTS":    "projector",
	}))
	if err != nil {
		t.Fatal(err)
	}
}
