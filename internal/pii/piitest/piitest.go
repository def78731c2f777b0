package piitest

import (
	"crypto/rand"
	"testing"

	"github.com/heimdallhub/heimdall/internal/pii"
	"github.com/heimdallhub/heimdall/internal/pii/keys"
	"github.com/heimdallhub/heimdall/internal/pii/policy"
	"github.com/heimdallhub/heimdall/internal/pii/scrub"
	"github.com/heimdallhub/heimdall/internal/pii/transform"
)

// Key returns 32 random bytes.
func Key(t testing.TB) []byte {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// Engine returns an engine for the policy in yaml (the built-in policy when
// yaml is empty) with fresh random keys and the default detectors.
func Engine(t testing.TB, yaml string) *pii.Engine {
	t.Helper()
	var (
		pol *policy.Policy
		err error
	)
	if yaml == "" {
		pol, err = policy.Builtin()
	} else {
		pol, err = policy.Parse([]byte(yaml))
	}
	if err != nil {
		t.Fatal(err)
	}
	ps, err := keys.NewPseudonymKeys("pk1", map[string][]byte{"pk1": Key(t)})
	if err != nil {
		t.Fatal(err)
	}
	mk, err := keys.NewMasterKey(Key(t))
	if err != nil {
		t.Fatal(err)
	}
	store, err := transform.NewKeyStore(mk, nil)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := scrub.New(scrub.Config{})
	if err != nil {
		t.Fatal(err)
	}
	e, err := pii.NewEngine(pol, ps, store, sc)
	if err != nil {
		t.Fatal(err)
	}
	return e
}
