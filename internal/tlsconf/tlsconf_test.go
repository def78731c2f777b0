package tlsconf

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func writePair(t *testing.T, dir, name string, tmpl, parent *x509.Certificate, key, parentKey *ecdsa.PrivateKey) (string, string) {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cf, kf := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(cf, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kf, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cf, kf
}

func TestServerRefusesSelfSigned(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}

	cf, kf := writePair(t, dir, "leaf", leaf, ca, leafKey, caKey)
	cfg, err := Server(cf, kf)
	if err != nil {
		t.Fatalf("CA-signed leaf refused: %v", err)
	}
	if cfg.MinVersion != 0x0304 || cfg.MaxVersion != 0x0304 {
		t.Fatal("server not TLS 1.3 only")
	}

	sf, sk := writePair(t, dir, "self", leaf, leaf, leafKey, leafKey)
	if _, err := Server(sf, sk); !errors.Is(err, ErrSelfSigned) {
		t.Fatalf("self-signed leaf: err = %v", err)
	}
	cacf, cakf := writePair(t, dir, "ca", ca, ca, caKey, caKey)
	if _, err := Server(cacf, cakf); err == nil {
		t.Fatal("CA certificate accepted as server certificate")
	}
	expired := *leaf
	expired.NotAfter = now.Add(-time.Minute)
	ef, ek := writePair(t, dir, "expired", &expired, ca, leafKey, caKey)
	if _, err := Server(ef, ek); err == nil {
		t.Fatal("expired certificate accepted")
	}
}

func TestClient(t *testing.T) {
	c, err := Client("")
	if err != nil || c.MinVersion != 0x0304 {
		t.Fatal(c, err)
	}
	if _, err := Client(filepath.Join(t.TempDir(), "missing.pem")); err == nil {
		t.Fatal("missing CA file accepted")
	}
}
