package devstack

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2/clientcredentials"
)

// Admin is a client of Keycloak's admin REST API for the stack's realm,
// authenticated as the stack's bootstrap admin (a service account of the
// master realm whose secret deploy/stack.sh generated).
type Admin struct {
	base   string // https://host:port/admin/realms/<realm>
	client *http.Client
	token  string
}

// rotatedPrefix names the key providers RotateProviderKeys adds.
const rotatedPrefix = "heimdall-rotated-"

// Admin returns an admin REST client for the stack's realm.
func (s Stack) Admin(t testing.TB) *Admin {
	t.Helper()
	creds := s.Credentials(t)
	origin, realm, ok := strings.Cut(s.OIDCIssuer, "/realms/")
	if !ok || realm == "" {
		t.Fatalf("development stack: issuer %s is not a Keycloak realm URL", s.OIDCIssuer)
	}
	ctx, cancel := context.WithTimeout(t.Context(), flowTimeout)
	defer cancel()
	cc := clientcredentials.Config{
		ClientID:     creds.Admin.ClientID,
		ClientSecret: creds.Admin.ClientSecret,
		TokenURL:     origin + "/realms/" + url.PathEscape(creds.Admin.Realm) + "/protocol/openid-connect/token",
	}
	tok, err := cc.Token(s.clientContext(ctx))
	if err != nil {
		t.Fatalf("keycloak admin token: %v", err)
	}
	return &Admin{base: origin + "/admin/realms/" + url.PathEscape(realm), client: s.HTTPClient(), token: tok.AccessToken}
}

// Do sends one admin request (body as JSON unless nil) and decodes a JSON
// answer into out (unless nil). It returns the status and the Location
// header; any status of 300 or more fails the test.
func (a *Admin) Do(t testing.TB, method, path string, body, out any) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	// Not t.Context(): cleanups (which remove what a test added) run after
	// it is cancelled.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), flowTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.client.Do(req)
	if err != nil {
		t.Fatalf("keycloak admin %s %s: %v", method, path, err)
	}
	if resp.StatusCode >= 300 {
		t.Fatalf("keycloak admin %s %s: %s", method, path, describe(resp))
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(out); err != nil {
			t.Fatalf("keycloak admin %s %s: decode: %v", method, path, err)
		}
	}
	return resp.StatusCode, resp.Header.Get("Location")
}

// RealmKey is one key of the realm as GET /keys lists it.
type RealmKey struct {
	KID        string `json:"kid"`
	Algorithm  string `json:"algorithm"`
	Type       string `json:"type"`
	ProviderID string `json:"providerId"` // the component id of its key provider
	Priority   int64  `json:"providerPriority"`
	Status     string `json:"status"` // ACTIVE, PASSIVE or DISABLED
	Use        string `json:"use"`
}

// Keys lists the realm's keys.
func (a *Admin) Keys(t testing.TB) []RealmKey {
	t.Helper()
	var out struct {
		Keys []RealmKey `json:"keys"`
	}
	a.Do(t, http.MethodGet, "/keys", nil, &out)
	return out.Keys
}

// component is a key provider as the components API has it.
type component struct {
	ID           string              `json:"id,omitempty"`
	Name         string              `json:"name"`
	ProviderID   string              `json:"providerId"`
	ProviderType string              `json:"providerType"`
	ParentID     string              `json:"parentId"`
	Config       map[string][]string `json:"config"`
}

const keyProviderType = "org.keycloak.keys.KeyProvider"

func (a *Admin) realmID(t testing.TB) string {
	t.Helper()
	var realm struct {
		ID string `json:"id"`
	}
	a.Do(t, http.MethodGet, "", nil, &realm)
	return realm.ID
}

// addKeyProvider creates a key provider and returns its component id and
// the kid of its key.
func (a *Admin) addKeyProvider(t testing.TB, c component) (string, string) {
	t.Helper()
	c.ProviderType, c.ParentID = keyProviderType, a.realmID(t)
	_, loc := a.Do(t, http.MethodPost, "/components", c, nil)
	id := loc[strings.LastIndex(loc, "/")+1:]
	if id == "" {
		t.Fatalf("keycloak admin: no component id in Location %q", loc)
	}
	for _, k := range a.Keys(t) {
		if k.ProviderID == id {
			return id, k.KID
		}
	}
	t.Fatalf("keycloak admin: key provider %s has no key", id)
	return "", ""
}

// ImportRSAKey adds priv to the realm as an RS256 signing key ("rsa"
// provider). A passive key (active false) is published in the JWKS but
// never signs; an active one signs from now on if its priority is the
// highest. The provider is removed when the test ends. It returns the kid.
func (a *Admin) ImportRSAKey(t testing.TB, priv *rsa.PrivateKey, priority int64, active bool) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	id, kid := a.addKeyProvider(t, component{
		Name:       "heimdall-test-" + rand.Text()[:8],
		ProviderID: "rsa",
		Config: map[string][]string{
			"priority":   {strconv.FormatInt(priority, 10)},
			"enabled":    {"true"},
			"active":     {strconv.FormatBool(active)},
			"algorithm":  {"RS256"},
			"keyUse":     {"sig"},
			"privateKey": {string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))},
		},
	})
	t.Cleanup(func() { a.deleteComponent(t, id) })
	return kid
}

func (a *Admin) deleteComponent(t testing.TB, id string) {
	t.Helper()
	a.Do(t, http.MethodDelete, "/components/"+url.PathEscape(id), nil, nil)
}

// setActive makes a key provider active or passive.
func (a *Admin) setActive(t testing.TB, id string, active bool) {
	t.Helper()
	var c component
	a.Do(t, http.MethodGet, "/components/"+url.PathEscape(id), nil, &c)
	c.Config["active"] = []string{strconv.FormatBool(active)}
	a.Do(t, http.MethodPut, "/components/"+url.PathEscape(id), c, nil)
}

// RotateProviderKeys rotates the realm's RS256 signing key the way an
// operator does in Keycloak: add a generated key provider with a higher
// priority than every other, then make the old RS256 keys passive (still
// published, so tokens they signed verify until they expire, never used
// to sign again). Keys an earlier rotation made passive more than an hour
// ago are removed (every token they signed has expired). It returns the
// new kid.
func (s Stack) RotateProviderKeys(t testing.TB) string {
	t.Helper()
	a := s.Admin(t)
	before := a.Keys(t)
	priority := time.Now().UnixMilli()
	for _, k := range before {
		priority = max(priority, k.Priority+1)
	}
	id, kid := a.addKeyProvider(t, component{
		Name:       rotatedPrefix + strconv.FormatInt(time.Now().Unix(), 10),
		ProviderID: "rsa-generated",
		Config: map[string][]string{
			"priority":  {strconv.FormatInt(priority, 10)},
			"enabled":   {"true"},
			"active":    {"true"},
			"algorithm": {"RS256"},
			"keySize":   {"2048"},
		},
	})
	var providers []component
	a.Do(t, http.MethodGet, "/components?type="+url.QueryEscape(keyProviderType), nil, &providers)
	status := map[string]string{}
	for _, k := range before {
		if k.Algorithm == "RS256" {
			status[k.ProviderID] = k.Status
		}
	}
	for _, c := range providers {
		st, rs256 := status[c.ID]
		if !rs256 || c.ID == id {
			continue
		}
		if st == "ACTIVE" {
			a.setActive(t, c.ID, false)
			continue
		}
		if at, ok := strings.CutPrefix(c.Name, rotatedPrefix); ok && st == "PASSIVE" {
			if sec, err := strconv.ParseInt(at, 10, 64); err == nil && time.Since(time.Unix(sec, 0)) > time.Hour {
				a.deleteComponent(t, c.ID)
			}
		}
	}
	return kid
}

// SubjectOf returns the subject (sub) of the tokens a confidential client
// gets with the client_credentials grant: the id of its service account.
func (s Stack) SubjectOf(t testing.TB, clientID string) string {
	t.Helper()
	if sub, ok := subjects.Load(s.OIDCIssuer + " " + clientID); ok {
		return sub.(string)
	}
	raw := s.TokenForClient(t, clientID)
	tok, err := s.Provider(t).Verifier(&oidc.Config{ClientID: APIAudience}).Verify(s.ClientContext(t.Context()), raw)
	if err != nil {
		t.Fatalf("token of %s: %v", clientID, err)
	}
	if tok.Subject == "" {
		t.Fatalf("token of %s has no subject", clientID)
	}
	subjects.Store(s.OIDCIssuer+" "+clientID, tok.Subject)
	return tok.Subject
}

var subjects sync.Map // issuer + " " + client id -> subject
