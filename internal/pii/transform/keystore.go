package transform

import (
	"bytes"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/aead/subtle"
	"github.com/tink-crypto/tink-go/v2/daead"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/heimdallhub/heimdall/internal/pii/keys"
)

// Purpose tells what a data key is for.
type Purpose string

// Data key purposes.
const (
	PurposeAEAD  Purpose = "aead"  // encrypt
	PurposeDAEAD Purpose = "daead" // tokenise
)

// WrappedKey is a data keyset encrypted under a master key; safe to store.
type WrappedKey struct {
	ID          string  // "dk-<hex>" (aead) or "tk-<hex>" (daead)
	Purpose     Purpose // aead or daead
	MasterKeyID string  // id of the master key that wraps it
	Wrapped     []byte  // Tink encrypted keyset (binary)
}

// Errors of the envelope layer. They never carry values or key material.
var (
	ErrKeyStore     = errors.New("pii key store")
	ErrUnknownKey   = errors.New("pii data key unknown")
	ErrWrongMaster  = errors.New("pii data key wrapped by another master key")
	ErrUnwrapFailed = errors.New("pii data key unwrap failed")
)

// KeyStore holds the data keys of the envelope; safe for concurrent use.
type KeyStore struct {
	mu      sync.RWMutex
	master  keys.MasterKey
	kek     tink.AEAD
	wrapped []WrappedKey // in creation order
	aeads   map[string]tink.AEAD
	daeads  map[string]tink.DeterministicAEAD
	active  map[Purpose]string
}

func kekFor(m keys.MasterKey) (tink.AEAD, error) {
	k, err := hkdf.Key(sha256.New, m.Secret(), nil, "heimdall/pii/kek/v1", 32)
	if err != nil {
		return nil, fmt.Errorf("%w: derive key-encryption key", ErrKeyStore)
	}
	a, err := subtle.NewAESGCM(k)
	if err != nil {
		return nil, fmt.Errorf("%w: key-encryption key", ErrKeyStore)
	}
	return a, nil
}

func wrapAD(id string, p Purpose) []byte {
	return []byte("heimdall/pii/dk/v1\x00" + id + "\x00" + string(p))
}

// NewKeyStore opens the stored data keys with master. The last key of each
// purpose is the active one; a purpose without keys gets a fresh key (export
// it with Wrapped and store it). Every key must be wrapped by master.
func NewKeyStore(master keys.MasterKey, stored []WrappedKey) (*KeyStore, error) {
	if master.ID() == "" {
		return nil, fmt.Errorf("%w: %w: no master key", ErrKeyStore, keys.ErrMissingKey)
	}
	kek, err := kekFor(master)
	if err != nil {
		return nil, err
	}
	s := &KeyStore{
		master: master, kek: kek,
		aeads: map[string]tink.AEAD{}, daeads: map[string]tink.DeterministicAEAD{},
		active: map[Purpose]string{},
	}
	var errs []error
	for _, w := range stored {
		if err := s.load(w); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	for _, p := range []Purpose{PurposeAEAD, PurposeDAEAD} {
		if s.active[p] == "" {
			if _, err := s.newDataKeyLocked(p); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

func (s *KeyStore) load(w WrappedKey) error {
	if w.MasterKeyID != s.master.ID() {
		return fmt.Errorf("%w: data key %s is wrapped by %s, not %s", ErrWrongMaster, w.ID, w.MasterKeyID, s.master.ID())
	}
	if _, dup := s.lookupLocked(w.ID); dup {
		return fmt.Errorf("%w: data key %s given twice", ErrKeyStore, w.ID)
	}
	h, err := keyset.ReadWithAssociatedData(keyset.NewBinaryReader(bytes.NewReader(w.Wrapped)), s.kek, wrapAD(w.ID, w.Purpose))
	if err != nil {
		return fmt.Errorf("%w: data key %s", ErrUnwrapFailed, w.ID)
	}
	if err := s.addPrimitive(w.ID, w.Purpose, h); err != nil {
		return err
	}
	s.wrapped = append(s.wrapped, w)
	s.active[w.Purpose] = w.ID
	return nil
}

func (s *KeyStore) lookupLocked(id string) (WrappedKey, bool) {
	for _, w := range s.wrapped {
		if w.ID == id {
			return w, true
		}
	}
	return WrappedKey{}, false
}

func (s *KeyStore) addPrimitive(id string, p Purpose, h *keyset.Handle) error {
	switch p {
	case PurposeAEAD:
		a, err := aead.New(h)
		if err != nil {
			return fmt.Errorf("%w: data key %s is not an AEAD keyset", ErrKeyStore, id)
		}
		s.aeads[id] = a
	case PurposeDAEAD:
		d, err := daead.New(h)
		if err != nil {
			return fmt.Errorf("%w: data key %s is not a deterministic AEAD keyset", ErrKeyStore, id)
		}
		s.daeads[id] = d
	default:
		return fmt.Errorf("%w: data key %s has unknown purpose %q", ErrKeyStore, id, string(p))
	}
	return nil
}

// NewDataKey creates, wraps and activates a new data key for purpose p and
// returns its id. Older data keys remain available for decryption.
func (s *KeyStore) NewDataKey(p Purpose) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newDataKeyLocked(p)
}

func (s *KeyStore) newDataKeyLocked(p Purpose) (string, error) {
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return "", fmt.Errorf("%w: random data key id", ErrKeyStore)
	}
	var (
		h   *keyset.Handle
		err error
		id  string
	)
	switch p {
	case PurposeAEAD:
		id = "dk-" + hex.EncodeToString(rnd[:])
		h, err = keyset.NewHandle(aead.AES256GCMKeyTemplate())
	case PurposeDAEAD:
		id = "tk-" + hex.EncodeToString(rnd[:])
		h, err = keyset.NewHandle(daead.AESSIVKeyTemplate())
	default:
		return "", fmt.Errorf("%w: unknown purpose %q", ErrKeyStore, string(p))
	}
	if err != nil {
		return "", fmt.Errorf("%w: generate data key", ErrKeyStore)
	}
	var buf bytes.Buffer
	if err := h.WriteWithAssociatedData(keyset.NewBinaryWriter(&buf), s.kek, wrapAD(id, p)); err != nil {
		return "", fmt.Errorf("%w: wrap data key %s", ErrKeyStore, id)
	}
	if err := s.addPrimitive(id, p, h); err != nil {
		return "", err
	}
	s.wrapped = append(s.wrapped, WrappedKey{ID: id, Purpose: p, MasterKeyID: s.master.ID(), Wrapped: buf.Bytes()})
	s.active[p] = id
	return id, nil
}

// MasterKeyID is the id of the master key wrapping every data key.
func (s *KeyStore) MasterKeyID() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.master.ID()
}

// Wrapped exports the wrapped data keys (creation order) for storage.
func (s *KeyStore) Wrapped() []WrappedKey {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]WrappedKey, len(s.wrapped))
	for i, w := range s.wrapped {
		w.Wrapped = append([]byte(nil), w.Wrapped...)
		out[i] = w
	}
	return out
}

// Rewrap re-wraps every data key under newMaster; data ciphertexts are not
// touched and still decrypt. On error nothing changes.
func (s *KeyStore) Rewrap(newMaster keys.MasterKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	out, err := RewrapAll(s.master, newMaster, s.wrapped)
	if err != nil {
		return err
	}
	kek, err := kekFor(newMaster)
	if err != nil {
		return err
	}
	s.master, s.kek, s.wrapped = newMaster, kek, out
	return nil
}

// RewrapAll re-wraps stored data keys from oldMaster to newMaster (offline
// rotation). Every key must be wrapped by oldMaster; on error none is
// returned.
func RewrapAll(oldMaster, newMaster keys.MasterKey, stored []WrappedKey) ([]WrappedKey, error) {
	if newMaster.ID() == "" {
		return nil, fmt.Errorf("%w: %w: no new master key", ErrKeyStore, keys.ErrMissingKey)
	}
	oldKEK, err := kekFor(oldMaster)
	if err != nil {
		return nil, err
	}
	newKEK, err := kekFor(newMaster)
	if err != nil {
		return nil, err
	}
	out := make([]WrappedKey, 0, len(stored))
	for _, w := range stored {
		if w.MasterKeyID != oldMaster.ID() {
			return nil, fmt.Errorf("%w: data key %s is wrapped by %s, not %s", ErrWrongMaster, w.ID, w.MasterKeyID, oldMaster.ID())
		}
		ad := wrapAD(w.ID, w.Purpose)
		h, err := keyset.ReadWithAssociatedData(keyset.NewBinaryReader(bytes.NewReader(w.Wrapped)), oldKEK, ad)
		if err != nil {
			return nil, fmt.Errorf("%w: data key %s", ErrUnwrapFailed, w.ID)
		}
		var buf bytes.Buffer
		if err := h.WriteWithAssociatedData(keyset.NewBinaryWriter(&buf), newKEK, ad); err != nil {
			return nil, fmt.Errorf("%w: re-wrap data key %s", ErrKeyStore, w.ID)
		}
		out = append(out, WrappedKey{ID: w.ID, Purpose: w.Purpose, MasterKeyID: newMaster.ID(), Wrapped: buf.Bytes()})
	}
	return out, nil
}

func (s *KeyStore) activeAEAD() (string, tink.AEAD) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	id := s.active[PurposeAEAD]
	return id, s.aeads[id]
}

func (s *KeyStore) activeDAEAD() (string, tink.DeterministicAEAD) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	id := s.active[PurposeDAEAD]
	return id, s.daeads[id]
}

func (s *KeyStore) aeadByID(id string) (tink.AEAD, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	a, ok := s.aeads[id]
	return a, ok
}

func (s *KeyStore) daeadByID(id string) (tink.DeterministicAEAD, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d, ok := s.daeads[id]
	return d, ok
}
