package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"time"
)

// ErrSelfSigned is returned for a leaf certificate that signs itself.
var ErrSelfSigned = errors.New("certificate is self-signed; use a certificate issued by a CA")

// Server returns a TLS 1.3-only server configuration for the certificate and
// key files. It refuses a self-signed or CA leaf, and an expired one.
func Server(certFile, keyFile string) (*tls.Config, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("loading server certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("parsing server certificate: %w", err)
	}
	if err := CheckLeaf(leaf, time.Now()); err != nil {
		return nil, err
	}
	pair.Leaf = leaf
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		MaxVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{pair},
	}, nil
}

// CheckLeaf refuses certificates that cannot serve as a CA-issued leaf.
func CheckLeaf(leaf *x509.Certificate, now time.Time) error {
	if leaf.IsCA {
		return errors.New("server certificate is a CA certificate; use a leaf issued by the CA")
	}
	// Signed by its own key: self-signed, whatever its extensions claim.
	if leaf.CheckSignature(leaf.SignatureAlgorithm, leaf.RawTBSCertificate, leaf.Signature) == nil {
		return ErrSelfSigned
	}
	if now.After(leaf.NotAfter) {
		return fmt.Errorf("server certificate expired on %s", leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if now.Before(leaf.NotBefore) {
		return fmt.Errorf("server certificate is not valid before %s", leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	return nil
}

// Client returns a TLS 1.3-only client configuration trusting the PEM bundle
// caFile, or the system roots when caFile is empty.
func Client(caFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS13, MaxVersion: tls.VersionTLS13}
	if caFile == "" {
		return cfg, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("reading CA bundle: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA bundle %s holds no PEM certificate", caFile)
	}
	cfg.RootCAs = pool
	return cfg, nil
}
