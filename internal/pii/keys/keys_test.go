package keys

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func randomKey(t testing.TB) []byte {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEnvSourceAcceptsRandomKey(t *testing.T) {
	k := randomKey(t)
	src, err := NewEnvSource("HEIMDALL_PII_MASTER_KEY", base64.StdEncoding.EncodeToString(k))
	if err != nil {
		t.Fatal(err)
	}
	m, err := src.MasterKey(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(m.Secret(), k) || !strings.HasPrefix(m.ID(), "mk-") {
		t.Fatalf("bad key %s", m)
	}
	for _, s := range []string{m.String(), fmt.Sprintf("%v %+v %#v", m, m, m)} {
		if strings.Contains(s, base64.StdEncoding.EncodeToString(k)) || strings.Contains(s, fmt.Sprint(k)) {
			t.Fatal("formatting leaks the key")
		}
	}
}

func TestWeakOrMissingMasterKeyRefused(t *testing.T) {
	seq := make([]byte, 32)
	for i := range seq {
		seq[i] = byte(i)
	}
	pattern := bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 8)
	text := []byte("correct horse battery staple and more")
	cases := map[string]string{
		"empty":     "",
		"spaces":    "   ",
		"not b64":   "!!!not base64!!!",
		"short":     base64.StdEncoding.EncodeToString(randomKey(t)[:31]),
		"zeros":     base64.StdEncoding.EncodeToString(make([]byte, 32)),
		"same byte": base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x41}, 48)),
		"sequence":  base64.StdEncoding.EncodeToString(seq),
		"pattern":   base64.StdEncoding.EncodeToString(pattern),
		"text":      base64.StdEncoding.EncodeToString(text),
	}
	for name, raw := range cases {
		_, err := NewEnvSource("HEIMDALL_PII_MASTER_KEY", raw)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if !errors.Is(err, ErrWeakKey) && !errors.Is(err, ErrMissingKey) && !errors.Is(err, ErrBadKey) {
			t.Errorf("%s: unexpected error class: %v", name, err)
		}
		if strings.TrimSpace(raw) != "" && strings.Contains(err.Error(), strings.TrimSpace(raw)) {
			t.Errorf("%s: error prints the key", name)
		}
		if !strings.Contains(err.Error(), "HEIMDALL_PII_MASTER_KEY") {
			t.Errorf("%s: error does not name the variable: %v", name, err)
		}
	}
	_, err := FromEnv(func(string) (string, bool) { return "", false }, "HEIMDALL_PII_MASTER_KEY")
	if !errors.Is(err, ErrMissingKey) {
		t.Fatalf("missing variable: %v", err)
	}
}

func TestPseudonymKeys(t *testing.T) {
	k1, k2 := randomKey(t), randomKey(t)
	raw := "pk2=" + base64.RawURLEncoding.EncodeToString(k2) + ", pk1=" + base64.StdEncoding.EncodeToString(k1)
	ks, err := ParsePseudonymKeys("HEIMDALL_PII_PSEUDONYM_KEYS", raw)
	if err != nil {
		t.Fatal(err)
	}
	v, k := ks.Current()
	if v != "pk2" || !bytes.Equal(k, k2) {
		t.Fatalf("current = %s", v)
	}
	if got, err := ks.Get("pk1"); err != nil || !bytes.Equal(got, k1) {
		t.Fatalf("pk1: %v", err)
	}
	if _, err := ks.Get("pk9"); !errors.Is(err, ErrNoVersion) {
		t.Fatalf("pk9: %v", err)
	}
	if strings.Contains(ks.String(), base64.StdEncoding.EncodeToString(k1)) {
		t.Fatal("String leaks key")
	}
	for name, bad := range map[string]string{
		"empty":       "",
		"no equals":   "pk1",
		"bad version": "v1=" + base64.StdEncoding.EncodeToString(k1),
		"weak":        "pk1=" + base64.StdEncoding.EncodeToString(make([]byte, 32)),
		"duplicate":   "pk1=" + base64.StdEncoding.EncodeToString(k1) + ",pk1=" + base64.StdEncoding.EncodeToString(k2),
	} {
		if _, err := ParsePseudonymKeys("X", bad); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := NewPseudonymKeys("pk3", map[string][]byte{"pk1": k1}); !errors.Is(err, ErrNoVersion) {
		t.Fatalf("current not in set: %v", err)
	}
}
