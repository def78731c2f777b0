package pii

import (
	"errors"
	"fmt"
	"strings"

	"github.com/heimdallhub/heimdall/internal/pii/keys"
	"github.com/heimdallhub/heimdall/internal/pii/policy"
	"github.com/heimdallhub/heimdall/internal/pii/scrub"
	"github.com/heimdallhub/heimdall/internal/pii/transform"
)

// Engine applies a policy with its keys: the one object the write side and
// the decrypt path hold. It is immutable after NewEngine (the key store it
// wraps may learn new data keys) and safe for concurrent use.
type Engine struct {
	pol   *policy.Policy
	ps    *keys.PseudonymKeys
	store *transform.KeyStore
	tr    *transform.Transformer
	sc    *scrub.Scrubber
}

// ErrEngine reports a missing part of the engine.
var ErrEngine = errors.New("pii engine")

// NewEngine combines a policy, the pseudonymisation keys, the envelope key
// store and the free-text scrubber; all are required.
func NewEngine(pol *policy.Policy, ps *keys.PseudonymKeys, store *transform.KeyStore, sc *scrub.Scrubber) (*Engine, error) {
	var errs []error
	if pol == nil {
		errs = append(errs, fmt.Errorf("%w: no policy", ErrEngine))
	}
	if ps == nil {
		errs = append(errs, fmt.Errorf("%w: no pseudonymisation keys", ErrEngine))
	}
	if store == nil {
		errs = append(errs, fmt.Errorf("%w: no data key store", ErrEngine))
	}
	if sc == nil {
		errs = append(errs, fmt.Errorf("%w: no scrubber", ErrEngine))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &Engine{pol: pol, ps: ps, store: store, tr: transform.New(ps, store), sc: sc}, nil
}

// Version is the version of the policy, recorded on every event.
func (e *Engine) Version() string { return e.pol.Version() }

// Policy returns the policy applied.
func (e *Engine) Policy() *policy.Policy { return e.pol }

// KeyStore returns the envelope key store.
func (e *Engine) KeyStore() *transform.KeyStore { return e.store }

// Rule resolves the rule of a field of a source profile.
func (e *Engine) Rule(profile, field string) policy.Rule { return e.pol.Rule(profile, field) }

// Level names a level rank; ranks out of range name the highest level.
func (e *Engine) Level(rank int) string {
	ls := e.pol.Levels()
	if rank < 0 || rank >= len(ls) {
		return ls[len(ls)-1]
	}
	return ls[rank]
}

// Apply transforms value by rule for a field of the record recordKey:
// every action of the policy, scrub included. drop means the value must not
// be stored. Errors name the field, never the value.
func (e *Engine) Apply(rule policy.Rule, recordKey, field, value string) (out string, drop bool, err error) {
	if rule.Action == policy.ActionScrub {
		return e.Scrub(value), false, nil
	}
	out, _, drop, err = e.tr.Apply(rule, recordKey, field, value)
	return out, drop, err
}

// Pseudonym is the keyed pseudonym of value in the domain kind under the
// current pseudonymisation key ("ps:<pkN>:…"); equal inputs give equal
// pseudonyms, which is what lets personal observables join.
func (e *Engine) Pseudonym(kind, value string) string {
	p, err := e.tr.PseudonymCurrent(kind, value)
	if err != nil { // NewEngine requires the keys
		panic("pii: pseudonymisation keys missing")
	}
	return p
}

// PseudonymKeyVersion is the version of the current pseudonymisation key.
func (e *Engine) PseudonymKeyVersion() string {
	v, _ := e.ps.Current()
	return v
}

// Scrub returns free text with the personal data the detectors find
// replaced by pseudonyms of the detector's kind ("ps:pk1:…"), so an e-mail
// address inside a message still joins with the same address pseudonymised
// in a field of kind email. A URL's query is decoded per parameter first.
// Invalid UTF-8 is replaced, so the output is always valid text.
func (e *Engine) Scrub(text string) string {
	if !strings.ContainsRune(text, '?') {
		return strings.ToValidUTF8(e.sc.Replace(text, e.replacement), "\uFFFD")
	}
	head, query, _ := strings.Cut(text, "?")
	query, frag, hasFrag := strings.Cut(query, "#")
	var b strings.Builder
	b.Grow(len(text) + 64)
	b.WriteString(e.sc.Replace(head, e.replacement))
	b.WriteByte('?')
	b.WriteString(e.sc.ScrubURLQuery(query, e.replacement))
	if hasFrag {
		b.WriteByte('#')
		b.WriteString(e.sc.Replace(frag, e.replacement))
	}
	return strings.ToValidUTF8(b.String(), "\uFFFD")
}

func (e *Engine) replacement(sp scrub.Span, match string) string {
	kind := string(sp.Kind)
	if sp.Scheme != "" {
		kind += "." + sp.Scheme
	}
	return e.Pseudonym(kind, match)
}

// Decrypt opens a value sealed by the encrypt action for the record and
// field it was sealed for, or a token of the tokenise action (record and
// field are then ignored; the token's kind is found among the policy's
// tokenise kinds). Only the decrypt path of the API may call it.
func (e *Engine) Decrypt(recordKey, field, sealed string) (string, error) {
	if !strings.HasPrefix(sealed, "tok:") {
		return e.tr.Decrypt(recordKey, field, sealed)
	}
	err := fmt.Errorf("%w: field %s: no tokenise rule of the policy opens it", transform.ErrCiphertext, field)
	for _, kind := range e.pol.Kinds(policy.ActionTokenise) {
		v, derr := e.tr.Detokenise(kind, sealed)
		if derr == nil {
			return v, nil
		}
		if !errors.Is(derr, transform.ErrCiphertext) || errors.Is(derr, transform.ErrUnknownKey) {
			return "", derr
		}
	}
	return "", err
}

// Sealed reports whether a stored value is an encrypt or tokenise envelope
// (something Decrypt can open).
func Sealed(v string) bool { return strings.HasPrefix(v, "enc:v1:") || strings.HasPrefix(v, "tok:v1:") }

// DataKeyID returns the data key id of a sealed value, or "" (also for an
// id longer than 64 bytes: no data key has one).
func DataKeyID(v string) string {
	for _, p := range []string{"enc:v1:", "tok:v1:"} {
		if rest, ok := strings.CutPrefix(v, p); ok {
			if id, _, _ := strings.Cut(rest, ":"); len(id) <= 64 {
				return id
			}
		}
	}
	return ""
}
