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
	if u, err := url.Parse(c.APIURL); err != nil || u.Scheme != "https" || u.Host == "" {
		errs = append(errs, errors.New("HEIMDALL_API_URL: must be an https URL"))
	}
	if u, err := url.Parse(c.Issuer); err != nil || u.Scheme != "https" || u.Host == "" {
		errs = append(errs, errors.New("HEIMDALL_OIDC_ISSUER: must be an https URL"))
	}
	for _, v := range []struct{ name, val string }{{"HEIMDALL_CLIENT_ID", c.ClientID}, {"HEIMDALL_CLIENT_SECRET", c.ClientSecret}} {
		if v.val == "" {
			errs = append(errs, fmt.Errorf("%s: required", v.name))
		}
	}
	return c, errors.Join(errs...)
}
