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

	"github.com/tink-crypto/tink-go/v2/aead/subtle"
	"github.com/tink-crypto/tink-go/v2/daead"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/heimdallhub/heimdall/internal/pii/keys"
)

// Purpose tells what a data key is for. Both purposes use Tink
// deterministic AEAD (AES-SIV) keysets; they differ in what is bound as
// associated data (see the package documentation) and are never shared.
type Purpose string

// Data key purposes.
const (
	PurposeEncrypt  Purpose = "encrypt"  // "dk-…": encrypt, bound to record and field
	PurposeTokenise Purpose = "tokenise" // "tk-…": tokenise, bound to a kind only
)

// Purposes lists every purpose, in a fixed order.
var Purposes = []Purpose{PurposeEncrypt, PurposeTokenise}

// WrappedKey is a data keyset encrypted under a master key; safe to store.
type WrappedKey struct {
	ID          string  // "dk-<hex>" (encrypt) or "tk-<hex>" (tokenise)
	Purpose     Purpose // encrypt or tokenise
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
// It wraps new keys with the current master key and can open keys wrapped by
// the previous master keys it was given, so reads keep working during a
// master key rotation.
type KeyStore struct {
	mu       sync.RWMutex
	master   keys.MasterKey
	kek      tink.AEAD
	previous map[string]tink.AEAD // master key id -> key-encryption key
	wrapped  []WrappedKey         // in creation order
	prims    map[string]tink.DeterministicAEAD
	active   map[Purpose]string
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

// NewKeyStore opens the stored data keys with master, or with one of the
// previous master keys (during a rotation). The last key of each purpose is
// the active one; a purpose without keys gets a fresh key (export it with
// Wrapped and store it). A key wrapped by any other master key is an error.
func NewKeyStore(master keys.MasterKey, stored []WrappedKey, previous ...keys.MasterKey) (*KeyStore, error) {
	if master.ID() == "" {
		return nil, fmt.Errorf("%w: %w: no master key", ErrKeyStore, keys.ErrMissingKey)
	}
	kek, err := kekFor(master)
	if err != nil {
		return nil, err
	}
	s := &KeyStore{
		master: master, kek: kek, previous: map[string]tink.AEAD{},
		prims: map[string]tink.DeterministicAEAD{}, active: map[Purpose]string{},
	}
	for _, m := range previous {
		if m.ID() == "" || m.ID() == master.ID() {
			continue
		}
		k, err := kekFor(m)
		if err != nil {
			return nil, err
		}
		s.previous[m.ID()] = k
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
	for _, p := range Purposes {
		if s.active[p] == "" {
			if _, err := s.newDataKeyLocked(p); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

func (s *KeyStore) kekByID(id string) (tink.AEAD, bool) {
	if id == s.master.ID() {
		return s.kek, true
	}
	k, ok := s.previous[id]
	return k, ok
}

func (s *KeyStore) load(w WrappedKey) error {
	kek, ok := s.kekByID(w.MasterKeyID)
	if !ok {
		return fmt.Errorf("%w: data key %s is wrapped by %s, not %s", ErrWrongMaster, w.ID, w.MasterKeyID, s.master.ID())
	}
	if _, dup := s.lookupLocked(w.ID); dup {
		return fmt.Errorf("%w: data key %s given twice", ErrKeyStore, w.ID)
	}
	h, err := keyset.ReadWithAssociatedData(keyset.NewBinaryReader(bytes.NewReader(w.Wrapped)), kek, wrapAD(w.ID, w.Purpose))
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

// Load adds data keys another process stored since this store was opened
// (keys it already holds are skipped; the same wrapping rules apply). The
// last new key of a purpose becomes active, as in NewKeyStore.
func (s *KeyStore) Load(stored []WrappedKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, w := range stored {
		if _, have := s.lookupLocked(w.ID); have {
			continue
		}
		if err := s.load(w); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Has reports whether the store holds the data key id.
func (s *KeyStore) Has(id string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.prims[id]
	return ok
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
	case PurposeEncrypt, PurposeTokenise:
		d, err := daead.New(h)
		if err != nil {
			return fmt.Errorf("%w: data key %s is not a deterministic AEAD keyset", ErrKeyStore, id)
		}
		s.prims[id] = d
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
	case PurposeEncrypt:
		id = "dk-" + hex.EncodeToString(rnd[:])
		h, err = keyset.NewHandle(daead.AESSIVKeyTemplate())
	case PurposeTokenise:
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

// MasterKeyID is the id of the master key that wraps new data keys.
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

// Rewrap re-wraps every data key under newMaster, which becomes the current
// master key; data ciphertexts are not touched and still decrypt. On error
// nothing changes.
func (s *KeyStore) Rewrap(newMaster keys.MasterKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if newMaster.ID() == "" {
		return fmt.Errorf("%w: %w: no new master key", ErrKeyStore, keys.ErrMissingKey)
	}
	newKEK, err := kekFor(newMaster)
	if err != nil {
		return err
	}
	out, err := s.rewrapLocked(newMaster.ID(), newKEK)
	if err != nil {
		return err
	}
	if s.master.ID() != newMaster.ID() {
		s.previous[s.master.ID()] = s.kek
	}
	s.master, s.kek, s.wrapped = newMaster, newKEK, out
	return nil
}

// RewrapStale re-wraps under the current master key every data key still
// wrapped by a previous one, and returns the keys it changed (to store).
func (s *KeyStore) RewrapStale() ([]WrappedKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out, err := s.rewrapLocked(s.master.ID(), s.kek)
	if err != nil {
		return nil, err
	}
	var changed []WrappedKey
	for i, w := range out {
		if s.wrapped[i].MasterKeyID != w.MasterKeyID {
			changed = append(changed, w)
		}
	}
	s.wrapped = out
	return changed, nil
}

func (s *KeyStore) rewrapLocked(newID string, newKEK tink.AEAD) ([]WrappedKey, error) {
	out := make([]WrappedKey, 0, len(s.wrapped))
	for _, w := range s.wrapped {
		if w.MasterKeyID == newID {
			out = append(out, w)
			continue
		}
		kek, ok := s.kekByID(w.MasterKeyID)
		if !ok {
			return nil, fmt.Errorf("%w: data key %s is wrapped by %s", ErrWrongMaster, w.ID, w.MasterKeyID)
		}
		r, err := rewrap(w, kek, newID, newKEK)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func rewrap(w WrappedKey, oldKEK tink.AEAD, newID string, newKEK tink.AEAD) (WrappedKey, error) {
	ad := wrapAD(w.ID, w.Purpose)
	h, err := keyset.ReadWithAssociatedData(keyset.NewBinaryReader(bytes.NewReader(w.Wrapped)), oldKEK, ad)
	if err != nil {
		return WrappedKey{}, fmt.Errorf("%w: data key %s", ErrUnwrapFailed, w.ID)
	}
	var buf bytes.Buffer
	if err := h.WriteWithAssociatedData(keyset.NewBinaryWriter(&buf), newKEK, ad); err != nil {
		return WrappedKey{}, fmt.Errorf("%w: re-wrap data key %s", ErrKeyStore, w.ID)
	}
	return WrappedKey{ID: w.ID, Purpose: w.Purpose, MasterKeyID: newID, Wrapped: buf.Bytes()}, nil
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
		r, err := rewrap(w, oldKEK, newMaster.ID(), newKEK)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func (s *KeyStore) activeKey(p Purpose) (string, tink.DeterministicAEAD) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	id := s.active[p]
	return id, s.prims[id]
}

// byID returns the primitive of data key id if it has purpose p.
func (s *KeyStore) byID(id string, p Purpose) (tink.DeterministicAEAD, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d, ok := s.prims[id]
	if !ok {
		return nil, false
	}
	w, _ := s.lookupLocked(id)
	return d, w.Purpose == p
}
