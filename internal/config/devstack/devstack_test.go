package devstack

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
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

// realmFile is the part of the realm file the tests rely on.
type realmFile struct {
	Realm               string `json:"realm"`
	SSLRequired         string `json:"sslRequired"`
	BruteForceProtected bool   `json:"bruteForceProtected"`
	Clients             []struct {
		ClientID                  string            `json:"clientId"`
		PublicClient              bool              `json:"publicClient"`
		Secret                    string            `json:"secret"`
		ServiceAccountsEnabled    bool              `json:"serviceAccountsEnabled"`
		StandardFlowEnabled       bool              `json:"standardFlowEnabled"`
		DirectAccessGrantsEnabled bool              `json:"directAccessGrantsEnabled"`
		ImplicitFlowEnabled       bool              `json:"implicitFlowEnabled"`
		RedirectURIs              []string          `json:"redirectUris"`
		DefaultClientScopes       []string          `json:"defaultClientScopes"`
		Attributes                map[string]string `json:"attributes"`
	} `json:"clients"`
	ClientScopes []struct {
		Name            string `json:"name"`
		ProtocolMappers []struct {
			ProtocolMapper string            `json:"protocolMapper"`
			Config         map[string]string `json:"config"`
		} `json:"protocolMappers"`
	} `json:"clientScopes"`
	Users []struct {
		Username               string              `json:"username"`
		ServiceAccountClientID string              `json:"serviceAccountClientId"`
		Groups                 []string            `json:"groups"`
		Attributes             map[string][]string `json:"attributes"`
		Credentials            []struct {
			Value string `json:"value"`
		} `json:"credentials"`
	} `json:"users"`
}

// TestRealmFile checks the committed realm against what Heimdall and the
// tests expect of it, and that it holds no secret: every client secret and
// password is a placeholder deploy/stack.sh fills at import.
func TestRealmFile(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, RealmFile))
	if err != nil {
		t.Fatal(err)
	}
	var r realmFile
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	if r.Realm != Realm || r.SSLRequired != "all" || !r.BruteForceProtected {
		t.Errorf("realm %q: sslRequired %q, brute-force protection %v", r.Realm, r.SSLRequired, r.BruteForceProtected)
	}
	placeholder := regexp.MustCompile(`^\$\{HEIMDALL_KC_(SECRET|PASSWORD)_[A-Z0-9_]+\}$`)
	clients := map[string]bool{}
	for _, c := range r.Clients {
		clients[c.ClientID] = true
		if c.ImplicitFlowEnabled || c.DirectAccessGrantsEnabled {
			t.Errorf("client %s allows the implicit or the password grant", c.ClientID)
		}
		if !slices.Contains(c.DefaultClientScopes, "heimdall-api") {
			t.Errorf("client %s lacks the heimdall-api scope (audience, groups, clearance)", c.ClientID)
		}
		switch {
		case c.PublicClient:
			if c.Secret != "" || c.Attributes["pkce.code.challenge.method"] != "S256" || !c.StandardFlowEnabled {
				t.Errorf("public client %s: secret %q, PKCE %q, code flow %v", c.ClientID, c.Secret, c.Attributes["pkce.code.challenge.method"], c.StandardFlowEnabled)
			}
		default:
			if !placeholder.MatchString(c.Secret) {
				t.Errorf("client %s: secret %q is not a placeholder", c.ClientID, c.Secret)
			}
			if c.StandardFlowEnabled || !c.ServiceAccountsEnabled {
				t.Errorf("confidential client %s: code flow %v, service account %v", c.ClientID, c.StandardFlowEnabled, c.ServiceAccountsEnabled)
			}
		}
		if c.ClientID == ClientWeb && !slices.Contains(c.RedirectURIs, WebRedirectURI) {
			t.Errorf("%s is not a redirect URI of %s", WebRedirectURI, ClientWeb)
		}
	}
	for _, id := range []string{ClientWeb, ClientCLI, ClientPeer, ClientPeer2, ClientPeer3, ClientNoPerm} {
		if !clients[id] {
			t.Errorf("client %s is not in %s", id, RealmFile)
		}
	}
	mappers := map[string]map[string]string{}
	for _, sc := range r.ClientScopes {
		if sc.Name != "heimdall-api" {
			continue
		}
		for _, m := range sc.ProtocolMappers {
			mappers[m.ProtocolMapper] = m.Config
		}
	}
	if mappers["oidc-audience-mapper"]["included.custom.audience"] != APIAudience {
		t.Errorf("the heimdall-api scope has no audience mapper for %s", APIAudience)
	}
	if mappers["oidc-group-membership-mapper"]["claim.name"] != "groups" || mappers["oidc-usermodel-attribute-mapper"]["claim.name"] != "clearance" {
		t.Errorf("the heimdall-api scope does not map groups and clearance: %v", mappers)
	}
	users := map[string][]string{}
	for _, u := range r.Users {
		for _, c := range u.Credentials {
			if !placeholder.MatchString(c.Value) {
				t.Errorf("user %s: password %q is not a placeholder", u.Username, c.Value)
			}
		}
		if u.ServiceAccountClientID == "" {
			users[u.Username] = append(u.Groups, u.Attributes["clearance"]...)
		}
	}
	for name, want := range map[string][]string{
		UserAlice: {"/" + GroupAdmin, "TOP SECRET"},
		UserBob:   {"/" + GroupAnalyst, "CONFIDENTIAL"},
		UserDana:  {"/" + GroupAnalyst, "SECRET"},
		UserCarol: {"/" + GroupIngest, "UNCLASSIFIED"},
		UserErin:  nil,
	} {
		got, ok := users[name]
		if !ok || !slices.Equal(got, want) {
			t.Errorf("user %s: groups and clearance %q, want %q", name, got, want)
		}
	}
}

func TestSplitList(t *testing.T) {
	got := splitList(" a:1, ,b:2 ,")
	if len(got) != 2 || got[0] != "a:1" || got[1] != "b:2" {
		t.Errorf("splitList = %q", got)
	}
}
