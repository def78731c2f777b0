package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
)

// Client is the configuration of the command-line tools that call the API
// (heimdall ingest, heimdall token).
type Client struct {
	APIURL       string
	Issuer       string
	ClientID     string
	ClientSecret string
	CAFile       string
}

// ClientVars lists the variables LoadClient reads.
var ClientVars = []Var{
	{"HEIMDALL_API_URL", "https://<HEIMDALL_HTTP_ADDR>", "API base URL the tools call."},
	{"HEIMDALL_CLIENT_ID", "", "OIDC client (client_credentials grant) the tools authenticate as."},
	{"HEIMDALL_CLIENT_SECRET", "", "Secret of HEIMDALL_CLIENT_ID."},
	{"HEIMDALL_LOGIN_CLIENT_ID", "heimdall-web", "Public OIDC client (authorization code + PKCE, loopback redirect) `heimdall login` signs a person in with."},
}

// Login is the configuration of `heimdall login`: a person signs in at
// the provider in a browser, and the tool receives the code on a loopback
// redirect.
type Login struct {
	Issuer   string
	ClientID string
	// Audience is the audience the access token must carry (the API's).
	Audience string
	// RoleClaims and ClearanceClaim are where the API reads roles and
	// clearance, for the summary the tool prints.
	RoleClaims     []string
	ClearanceClaim string
	CAFile         string
}

// LoadLogin reads the configuration of `heimdall login`, reporting every
// problem.
func LoadLogin(lookup func(string) (string, bool)) (Login, error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	r := reader{lookup: lookup, defaults: map[string]string{}}
	for _, v := range append(append([]Var{}, Vars...), ClientVars...) {
		r.defaults[v.Name] = v.Default
	}
	l := Login{
		Issuer:         r.str("HEIMDALL_OIDC_ISSUER"),
		ClientID:       r.str("HEIMDALL_LOGIN_CLIENT_ID"),
		Audience:       r.str("HEIMDALL_OIDC_AUDIENCE"),
		RoleClaims:     r.list("HEIMDALL_ROLE_CLAIMS"),
		ClearanceClaim: r.str("HEIMDALL_CLEARANCE_CLAIM"),
		CAFile:         r.str("HEIMDALL_CA_FILE"),
	}
	if err := httpsURL(l.Issuer); err != nil {
		r.errs = append(r.errs, fmt.Errorf("HEIMDALL_OIDC_ISSUER: %w", err))
	}
	for _, v := range []struct{ name, val string }{{"HEIMDALL_LOGIN_CLIENT_ID", l.ClientID}, {"HEIMDALL_OIDC_AUDIENCE", l.Audience}} {
		if v.val == "" {
			r.errs = append(r.errs, fmt.Errorf("%s: required", v.name))
		}
	}
	return l, errors.Join(r.errs...)
}

// httpsURL checks that s is an absolute https URL.
func httpsURL(s string) error {
	if u, err := url.Parse(s); err != nil || u.Scheme != "https" || u.Host == "" {
		return errors.New("must be an https URL")
	}
	return nil
}

// LoadClient reads the tools' configuration, reporting every problem.
func LoadClient(lookup func(string) (string, bool)) (Client, error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	get := func(k string) string { v, _ := lookup(k); return strings.TrimSpace(v) }
	c := Client{
		APIURL:       get("HEIMDALL_API_URL"),
		Issuer:       get("HEIMDALL_OIDC_ISSUER"),
		ClientID:     get("HEIMDALL_CLIENT_ID"),
		ClientSecret: get("HEIMDALL_CLIENT_SECRET"),
		CAFile:       get("HEIMDALL_CA_FILE"),
	}
	if c.APIURL == "" {
		addr := get("HEIMDALL_HTTP_ADDR")
		if addr == "" {
			addr = "127.0.0.1:8443"
		}
		if strings.HasPrefix(addr, "127.0.0.1:") {
			addr = "localhost" + strings.TrimPrefix(addr, "127.0.0.1")
		}
		c.APIURL = "https://" + addr
	}
	var errs []error
	if err := httpsURL(c.APIURL); err != nil {
		errs = append(errs, fmt.Errorf("HEIMDALL_API_URL: %w", err))
	}
	if err := httpsURL(c.Issuer); err != nil {
		errs = append(errs, fmt.Errorf("HEIMDALL_OIDC_ISSUER: %w", err))
	}
	for _, v := range []struct{ name, val string }{{"HEIMDALL_CLIENT_ID", c.ClientID}, {"HEIMDALL_CLIENT_SECRET", c.ClientSecret}} {
		if v.val == "" {
			errs = append(errs, fmt.Errorf("%s: required", v.name))
		}
	}
	return c, errors.Join(errs...)
}
