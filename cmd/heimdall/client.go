package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/heimdallhub/heimdall/internal/config"
	"github.com/heimdallhub/heimdall/internal/tlsconf"
)

// apiClient is an HTTPS client of the API authenticated with the
// client_credentials grant.
type apiClient struct {
	cfg  config.Client
	http *http.Client
	ts   oauth2.TokenSource
}

func newAPIClient(ctx context.Context, lookup env) (*apiClient, error) {
	cfg, err := config.LoadClient(lookup)
	if err != nil {
		return nil, fmt.Errorf("configuration:\n%w", err)
	}
	tlsCfg, err := tlsconf.Client(cfg.CAFile)
	if err != nil {
		return nil, err
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg, ForceAttemptHTTP2: true}}
	dctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, hc), 15*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(dctx, cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("discovering the OIDC provider: %w", err)
	}
	cc := clientcredentials.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, TokenURL: p.Endpoint().TokenURL}
	ts := cc.TokenSource(context.WithValue(context.WithoutCancel(ctx), oauth2.HTTPClient, hc))
	return &apiClient{cfg: cfg, http: hc, ts: ts}, nil
}

func (c *apiClient) token() (string, error) {
	t, err := c.ts.Token()
	if err != nil {
		return "", fmt.Errorf("getting an access token: %w", err)
	}
	return t.AccessToken, nil
}

// apiCall sends one JSON request with the tools' client credentials and
// prints the response body; a non-2xx status is an error.
func apiCall(ctx context.Context, lookup env, method, path string, body []byte, stdout, stderr io.Writer) error {
	c, err := newAPIClient(ctx, lookup)
	if err != nil {
		return err
	}
	tok, err := c.token()
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, c.cfg.APIURL+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("calling the API: %w", err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("reading the API's answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		fmt.Fprintf(stderr, "%s\n", out)
		return fmt.Errorf("the API answered %s", resp.Status)
	}
	_, err = stdout.Write(out)
	return err
}
