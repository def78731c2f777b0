package devstack

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fatalTB records Fatalf instead of ending the test.
type fatalTB struct {
	testing.TB
	msg string
}

type fatal struct{}

func (f *fatalTB) Helper() {}
func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	panic(fatal{})
}

func lookupIn(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func fromLookup(t *testing.T, env map[string]string) (s Stack, msg string) {
	tb := &fatalTB{TB: t}
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(fatal); !ok {
				panic(r)
			}
			msg = tb.msg
		}
	}()
	return FromLookup(tb, lookupIn(env)), ""
}

func TestFromLookupMissing(t *testing.T) {
	_, msg := fromLookup(t, map[string]string{EnvOIDCIssuer: "https://localhost:58443"})
	for _, want := range []string{EnvCAFile, EnvStackDir, EnvPostgresURL, EnvKafkaBrokers, "make stack-up", "source .stack/env"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, EnvOIDCIssuer) {
		t.Errorf("message %q names a variable that is set", msg)
	}
}

func TestFromLookupBadCA(t *testing.T) {
	ca := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(ca, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, msg := fromLookup(t, map[string]string{
		EnvOIDCIssuer: "https://localhost:58443", EnvCAFile: ca, EnvStackDir: "/x",
		EnvPostgresURL: "postgres://x", EnvKafkaBrokers: "a:1",
	})
	if !strings.Contains(msg, "no PEM certificate") {
		t.Errorf("message = %q", msg)
	}
}

func TestIDPConfigFromModuleRoot(t *testing.T) {
	var s Stack
	if got := s.ClientSecret(t, ClientCLI); got == "" {
		t.Error("no heimdall-cli secret")
	}
	for _, u := range []string{UserAlice, UserBob, UserCarol} {
		if s.UserPassword(t, u) == "" {
			t.Errorf("no password for %s", u)
		}
	}
	cfg := s.IDPConfig(t)
	for _, id := range []string{ClientWeb, ClientCLI, ClientPeer, ClientNoPerm} {
		if _, ok := cfg.Client(id); !ok {
			t.Errorf("client %s not in %s", id, IDPConfigPath)
		}
	}
	if cfg.APIAudience != APIAudience {
		t.Errorf("api_audience = %q, want %q", cfg.APIAudience, APIAudience)
	}
	web, _ := cfg.Client(ClientWeb)
	found := false
	for _, u := range web.RedirectURIs {
		found = found || u == WebRedirectURI
	}
	if !found {
		t.Errorf("%s is not a redirect URI of %s", WebRedirectURI, ClientWeb)
	}
}

func TestSplitList(t *testing.T) {
	got := splitList(" a:1, ,b:2 ,")
	if len(got) != 2 || got[0] != "a:1" || got[1] != "b:2" {
		t.Errorf("splitList = %q", got)
	}
}
