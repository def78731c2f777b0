package config

import (
	"errors"
	"fmt"
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
		"HEIMDALL_TLS_CERT_FILE":  cert,
		"HEIMDALL_TLS_KEY_FILE":   cert,
		"HEIMDALL_KAFKA_BROKERS":  "localhost:59092, localhost:59094",
		"HEIMDALL_KAFKA_USER":     "heimdall",
		"HEIMDALL_KAFKA_PASSWORD": "kafka-password",
		"HEIMDALL_POSTGRES_URL":   "postgres://u:p@localhost:5432/h?sslmode=verify-full",
		"HEIMDALL_OIDC_ISSUER":    "https://localhost:58443",
		"HEIMDALL_COMPONENTS":     "projector,api",
		"HEIMDALL_MASTER_KEY":     testKey,
		"HEIMDALL_PSEUDONYM_KEYS": "pk1=" + testKey2 + ",pk2=" + testKey,
	}))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Kafka.Brokers) != 2 || !c.Runs(ComponentAPI) || c.Runs(ComponentIngest) || c.Kafka.Partitions != 6 {
		t.Fatalf("%+v", c)
	}
	if c.PII.MasterKey.ID() == "" || c.PII.PseudonymKeys == nil {
		t.Fatal("PII keys not loaded")
	}
	if v, _ := c.PII.PseudonymKeys.Current(); v != "pk2" {
		t.Fatalf("current pseudonym key %s, want pk2", v)
	}
	if strings.Contains(fmt.Sprintf("%+v %#v", c, c), testKey[:12]) {
		t.Fatal("configuration prints key material")
	}
}

const (
	testKey  = "q83vEjRWeJq83vEjRWeJ7u/+3LqYdlQyEM3e8BI0VmY="
	testKey2 = "RJC0hCPI8Aq/Oc9nKQfqurzsbEi0I3mOL5rg/kvii9o="
)

// The PII keys are required by the api and ingest components, and a weak or
// malformed key stops the start with a message naming the variable only.
func TestPIIKeysMissingOrWeak(t *testing.T) {
	base := map[string]string{
		"HEIMDALL_KAFKA_BROKERS": "localhost:59092",
		"HEIMDALL_KAFKA_USER":    "heimdall", "HEIMDALL_KAFKA_PASSWORD": "kafka-password",
		"HEIMDALL_POSTGRES_URL":  "postgres://u:p@localhost:5432/h?sslmode=verify-full",
		"HEIMDALL_COMPONENTS":    "ingest",
		"HEIMDALL_TLS_CERT_FILE": "", "HEIMDALL_OIDC_ISSUER": "https://localhost:58443",
	}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	weak := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" // 32 zero bytes
	for name, tc := range map[string]struct {
		env  map[string]string
		want []string
	}{
		"missing":   {with(), []string{"HEIMDALL_MASTER_KEY", "HEIMDALL_PSEUDONYM_KEYS", "not set"}},
		"weak":      {with("HEIMDALL_MASTER_KEY", weak, "HEIMDALL_PSEUDONYM_KEYS", "pk1="+weak), []string{"HEIMDALL_MASTER_KEY", "weak", "pk1"}},
		"short":     {with("HEIMDALL_MASTER_KEY", "c2hvcnQ=", "HEIMDALL_PSEUDONYM_KEYS", "pk1="+testKey), []string{"HEIMDALL_MASTER_KEY"}},
		"malformed": {with("HEIMDALL_MASTER_KEY", testKey, "HEIMDALL_PSEUDONYM_KEYS", testKey), []string{"HEIMDALL_PSEUDONYM_KEYS"}},
		"previous":  {with("HEIMDALL_MASTER_KEY", testKey, "HEIMDALL_PSEUDONYM_KEYS", "pk1="+testKey2, "HEIMDALL_MASTER_KEY_PREVIOUS", weak), []string{"HEIMDALL_MASTER_KEY_PREVIOUS"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Load(env(tc.env))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
			for _, secret := range []string{testKey[:12], testKey2[:12], "AAAAAAAAAAAA"} {
				if strings.Contains(err.Error(), secret) {
					t.Error("error echoes key material")
				}
			}
		})
	}
	// The projector alone needs no PII keys.
	m := with("HEIMDALL_COMPONENTS", "projector")
	if _, err := Load(env(m)); err != nil {
		t.Fatalf("projector: %v", err)
	}
}

func TestProjectorAloneNeedsNoHTTP(t *testing.T) {
	_, err := Load(env(map[string]string{
		"HEIMDALL_KAFKA_BROKERS": "localhost:59092",
		"HEIMDALL_KAFKA_USER":    "heimdall", "HEIMDALL_KAFKA_PASSWORD": "kafka-password",
		"HEIMDALL_POSTGRES_URL": "postgres://u:p@localhost:5432/h?sslmode=verify-full",
		"HEIMDALL_COMPONENTS":   "projector",
	}))
	if err != nil {
		t.Fatal(err)
	}
}

// TestKafkaAuth: Heimdall never connects to Kafka unauthenticated, and
// every wrong combination is named without echoing a secret.
func TestKafkaAuth(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string // "" = valid
	}{
		{"scram", map[string]string{"HEIMDALL_KAFKA_USER": "u", "HEIMDALL_KAFKA_PASSWORD": "p4ssw0rd-canary"}, ""},
		{"scram-256", map[string]string{"HEIMDALL_KAFKA_SASL_MECHANISM": "scram-sha-256", "HEIMDALL_KAFKA_USER": "u", "HEIMDALL_KAFKA_PASSWORD": "p"}, ""},
		{"no user", map[string]string{"HEIMDALL_KAFKA_PASSWORD": "p4ssw0rd-canary"}, "HEIMDALL_KAFKA_USER/HEIMDALL_KAFKA_PASSWORD: required"},
		{"no password", map[string]string{"HEIMDALL_KAFKA_USER": "u"}, "HEIMDALL_KAFKA_USER/HEIMDALL_KAFKA_PASSWORD: required"},
		{"none without certificate", map[string]string{"HEIMDALL_KAFKA_SASL_MECHANISM": "none"}, "never connects to Kafka unauthenticated"},
		{"mtls", map[string]string{"HEIMDALL_KAFKA_SASL_MECHANISM": "none", "HEIMDALL_KAFKA_CLIENT_CERT_FILE": "c", "HEIMDALL_KAFKA_CLIENT_KEY_FILE": "k"}, ""},
		{"certificate without key", map[string]string{"HEIMDALL_KAFKA_USER": "u", "HEIMDALL_KAFKA_PASSWORD": "p", "HEIMDALL_KAFKA_CLIENT_CERT_FILE": "c"}, "set both or neither"},
		{"plain", map[string]string{"HEIMDALL_KAFKA_SASL_MECHANISM": "PLAIN", "HEIMDALL_KAFKA_USER": "u", "HEIMDALL_KAFKA_PASSWORD": "p4ssw0rd-canary"}, "must be SCRAM-SHA-512, SCRAM-SHA-256 or none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := reader{lookup: env(tc.env), defaults: map[string]string{}}
			for _, v := range Vars {
				r.defaults[v.Name] = v.Default
			}
			a := r.kafkaAuth()
			err := errors.Join(r.errs...)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want %q", err, tc.want)
			case err != nil && strings.Contains(err.Error(), "p4ssw0rd-canary"):
				t.Fatal("the error echoes the password")
			}
			if fmt.Sprint(a) != "" && strings.Contains(fmt.Sprintf("%v %+v %#v", a, a, a), "p4ssw0rd-canary") {
				t.Fatal("the configuration prints the password")
			}
		})
	}
}
