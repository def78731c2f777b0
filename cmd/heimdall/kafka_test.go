package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heimdallhub/heimdall/internal/config"
)

// TestKafkaConfig: the one place a Kafka client configuration is made
// gives SCRAM, a client certificate, or both, and refuses what cannot
// authenticate.
func TestKafkaConfig(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writeClientCert(t, dir)
	base := &tls.Config{MinVersion: tls.VersionTLS13}
	brokers := []string{"localhost:59092"}

	kc, err := kafkaConfig(brokers, config.KafkaAuth{Mechanism: "SCRAM-SHA-512", User: "u", Password: "p"}, base, "id", nil)
	if err != nil || kc.SASL == nil || kc.SASL.User != "u" || len(kc.TLS.Certificates) != 0 {
		t.Fatalf("scram: %+v %v", kc, err)
	}
	kc, err = kafkaConfig(brokers, config.KafkaAuth{Mechanism: "none", ClientCertFile: certFile, ClientKeyFile: keyFile}, base, "id", nil)
	if err != nil || kc.SASL != nil || len(kc.TLS.Certificates) != 1 {
		t.Fatalf("mtls: %+v %v", kc, err)
	}
	if len(base.Certificates) != 0 {
		t.Fatal("the shared TLS configuration was changed")
	}
	kc, err = kafkaConfig(brokers, config.KafkaAuth{Mechanism: "SCRAM-SHA-256", User: "u", Password: "p", ClientCertFile: certFile, ClientKeyFile: keyFile}, base, "id", nil)
	if err != nil || kc.SASL == nil || kc.SASL.Mechanism != "SCRAM-SHA-256" || len(kc.TLS.Certificates) != 1 {
		t.Fatalf("both: %+v %v", kc, err)
	}
	if _, err := kafkaConfig(brokers, config.KafkaAuth{Mechanism: "none"}, base, "id", nil); err == nil || !strings.Contains(err.Error(), "no authentication") {
		t.Fatalf("neither SCRAM nor a certificate: %v", err)
	}
	if _, err := kafkaConfig(brokers, config.KafkaAuth{Mechanism: "none", ClientCertFile: keyFile, ClientKeyFile: certFile}, base, "id", nil); err == nil {
		t.Fatal("a swapped certificate and key were accepted")
	}
}

func writeClientCert(t *testing.T, dir string) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "heimdall"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "c.crt"), filepath.Join(dir, "c.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
