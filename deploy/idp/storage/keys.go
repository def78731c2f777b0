package storage

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// KeysFile is the name of the signing key file in the state directory.
const KeysFile = "signing-keys.json"

// rsaKeyBits is the size of generated RSA keys.
const rsaKeyBits = 2048

// SigningKey is one key pair of the ring. It implements op.SigningKey (the
// private half) and op.Key (the public half, through publicKey).
type SigningKey struct {
	id      string
	alg     jose.SignatureAlgorithm
	created time.Time
	// retired is when the key stopped signing; zero for the active key.
	retired time.Time
	private crypto.Signer
}

// ID is the key's kid: its RFC 7638 JWK thumbprint.
func (k *SigningKey) ID() string { return k.id }

// SignatureAlgorithm implements op.SigningKey.
func (k *SigningKey) SignatureAlgorithm() jose.SignatureAlgorithm { return k.alg }

// Key implements op.SigningKey: the private key.
func (k *SigningKey) Key() any { return k.private }

type publicKey struct{ *SigningKey }

func (k publicKey) Algorithm() jose.SignatureAlgorithm { return k.alg }
func (k publicKey) Use() string                        { return "sig" }
func (k publicKey) Key() any                           { return k.private.Public() }

// KeyRing holds the provider's signing keys: one active key that signs new
// tokens and the retired keys whose tokens may still be valid, which stay
// published in the JWKS until Retention after they were retired.
//
// With a directory, the ring is persisted in dir/signing-keys.json (mode
// 0600) on every change, so a restarted provider keeps signing with the same
// key and keeps publishing the retired ones.
type KeyRing struct {
	dir       string
	alg       jose.SignatureAlgorithm
	retention time.Duration
	now       func() time.Time

	mu   sync.RWMutex
	keys []*SigningKey // oldest first; the last one is active
}

// OpenKeyRing loads the key ring from dir (creating it when missing) or,
// with an empty dir, creates an in-memory ring whose keys die with the
// process. New keys use alg; when the active key has another algorithm, a
// new key is generated and the old one retired.
func OpenKeyRing(dir string, alg string, retention time.Duration) (*KeyRing, error) {
	r := &KeyRing{dir: dir, alg: jose.SignatureAlgorithm(alg), retention: retention, now: time.Now}
	if r.alg != jose.RS256 && r.alg != jose.ES256 {
		return nil, fmt.Errorf("unsupported signing algorithm %q", alg)
	}
	if dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create state dir: %w", err)
		}
		if err := r.load(); err != nil {
			return nil, err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	changed := r.pruneLocked()
	if len(r.keys) == 0 || r.keys[len(r.keys)-1].alg != r.alg {
		if _, err := r.rotateLocked(); err != nil {
			return nil, err
		}
		changed = false // rotateLocked saved
	}
	if changed {
		if err := r.saveLocked(); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Active returns the key that signs new tokens.
func (r *KeyRing) Active() *SigningKey {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.keys[len(r.keys)-1]
}

// Published returns the keys of the JWKS, active key first.
func (r *KeyRing) Published() []*SigningKey {
	r.mu.RLock()
	defer r.mu.RUnlock()
	now := r.now()
	out := make([]*SigningKey, 0, len(r.keys))
	for i := len(r.keys) - 1; i >= 0; i-- {
		if k := r.keys[i]; k.retired.IsZero() || now.Before(k.retired.Add(r.retention)) {
			out = append(out, k)
		}
	}
	return out
}

// Rotate generates a new active key, retires the current one (it stays
// published for Retention) and persists the ring. It returns the new key.
func (r *KeyRing) Rotate() (*SigningKey, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pruneLocked()
	return r.rotateLocked()
}

func (r *KeyRing) rotateLocked() (*SigningKey, error) {
	k, err := generateKey(r.alg, r.now())
	if err != nil {
		return nil, err
	}
	next := slices.Clone(r.keys)
	if n := len(next); n > 0 {
		prev := *next[n-1]
		prev.retired = k.created
		next[n-1] = &prev
	}
	next = append(next, k)
	old := r.keys
	r.keys = next
	if err := r.saveLocked(); err != nil {
		r.keys = old
		return nil, err
	}
	return k, nil
}

// pruneLocked drops retired keys past their retention. It reports whether
// it dropped any.
func (r *KeyRing) pruneLocked() bool {
	now := r.now()
	n := len(r.keys)
	r.keys = slices.DeleteFunc(r.keys, func(k *SigningKey) bool {
		return !k.retired.IsZero() && !now.Before(k.retired.Add(r.retention))
	})
	return len(r.keys) != n
}

func generateKey(alg jose.SignatureAlgorithm, now time.Time) (*SigningKey, error) {
	var (
		priv crypto.Signer
		err  error
	)
	switch alg {
	case jose.RS256:
		priv, err = rsa.GenerateKey(rand.Reader, rsaKeyBits)
	case jose.ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return nil, fmt.Errorf("unsupported signing algorithm %q", alg)
	}
	if err != nil {
		return nil, fmt.Errorf("generate %s key: %w", alg, err)
	}
	kid, err := thumbprint(priv)
	if err != nil {
		return nil, err
	}
	return &SigningKey{id: kid, alg: alg, created: now.UTC().Truncate(time.Second), private: priv}, nil
}

func thumbprint(priv crypto.Signer) (string, error) {
	jwk := jose.JSONWebKey{Key: priv.Public()}
	sum, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("key thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}

// keysFile is the on-disk form of the ring.
type keysFile struct {
	Version int             `json:"version"`
	Keys    []keyFileRecord `json:"keys"`
}

type keyFileRecord struct {
	KID        string    `json:"kid"`
	Alg        string    `json:"alg"`
	Created    time.Time `json:"created"`
	Retired    time.Time `json:"retired,omitzero"`
	PrivatePEM string    `json:"private_key_pem"`
}

func (r *KeyRing) path() string { return filepath.Join(r.dir, KeysFile) }

func (r *KeyRing) load() error {
	data, err := os.ReadFile(r.path())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read signing keys: %w", err)
	}
	var f keysFile
	if err := json.Unmarshal(data, &f); err != nil {
		return fmt.Errorf("decode %s: %w", r.path(), err)
	}
	if f.Version != 1 {
		return fmt.Errorf("%s: unsupported version %d", r.path(), f.Version)
	}
	keys := make([]*SigningKey, 0, len(f.Keys))
	for i, rec := range f.Keys {
		k, err := rec.decode()
		if err != nil {
			return fmt.Errorf("%s: key %d: %w", r.path(), i, err)
		}
		keys = append(keys, k)
	}
	r.mu.Lock()
	r.keys = keys
	r.mu.Unlock()
	return nil
}

func (rec keyFileRecord) decode() (*SigningKey, error) {
	block, _ := pem.Decode([]byte(rec.PrivatePEM))
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, errors.New("private_key_pem: no PKCS #8 PRIVATE KEY block")
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	alg := jose.SignatureAlgorithm(rec.Alg)
	var priv crypto.Signer
	switch p := parsed.(type) {
	case *rsa.PrivateKey:
		if alg != jose.RS256 {
			return nil, fmt.Errorf("RSA key with alg %q", alg)
		}
		priv = p
	case *ecdsa.PrivateKey:
		if alg != jose.ES256 || p.Curve != elliptic.P256() {
			return nil, fmt.Errorf("ECDSA key with alg %q", alg)
		}
		priv = p
	default:
		return nil, fmt.Errorf("unsupported key type %T", parsed)
	}
	kid, err := thumbprint(priv)
	if err != nil {
		return nil, err
	}
	if kid != rec.KID {
		return nil, fmt.Errorf("kid %q does not match the key's thumbprint %q", rec.KID, kid)
	}
	return &SigningKey{id: kid, alg: alg, created: rec.Created, retired: rec.Retired, private: priv}, nil
}

// saveLocked writes the ring atomically (temporary file, fsync, rename).
func (r *KeyRing) saveLocked() error {
	if r.dir == "" {
		return nil
	}
	f := keysFile{Version: 1}
	for _, k := range r.keys {
		der, err := x509.MarshalPKCS8PrivateKey(k.private)
		if err != nil {
			return fmt.Errorf("encode key %s: %w", k.id, err)
		}
		f.Keys = append(f.Keys, keyFileRecord{
			KID:        k.id,
			Alg:        string(k.alg),
			Created:    k.created,
			Retired:    k.retired,
			PrivatePEM: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		})
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("encode signing keys: %w", err)
	}
	tmp, err := os.CreateTemp(r.dir, KeysFile+".*.tmp")
	if err != nil {
		return fmt.Errorf("write signing keys: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write signing keys: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write signing keys: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write signing keys: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write signing keys: %w", err)
	}
	if err := os.Rename(tmp.Name(), r.path()); err != nil {
		return fmt.Errorf("write signing keys: %w", err)
	}
	if d, err := os.Open(r.dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
