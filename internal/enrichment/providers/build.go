package providers

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/heimdallhub/heimdall/internal/enrichment"
	"github.com/heimdallhub/heimdall/internal/enrichment/geoip"
	"github.com/heimdallhub/heimdall/internal/enrichment/httpjson"
	"github.com/heimdallhub/heimdall/internal/enrichment/openaiembed"
	"github.com/heimdallhub/heimdall/internal/enrichment/rdap"
	"github.com/heimdallhub/heimdall/internal/enrichment/resilient"
	"github.com/heimdallhub/heimdall/internal/enrichment/resolve"
	"github.com/heimdallhub/heimdall/internal/tlsconf"
)

// Options are what Build needs besides the file.
type Options struct {
	// Lookup reads secrets from the environment (os.LookupEnv).
	Lookup func(string) (string, bool)
	Logger *slog.Logger
	// Registerer gets the resilience metrics (nil: none).
	Registerer prometheus.Registerer
}

// Built is one ready provider.
type Built struct {
	Spec Spec
	// Provider is the raw provider wrapped by enrichment.Counted and the
	// resilience stack.
	Provider  enrichment.Provider
	Resilient *resilient.Provider
	closeFn   func() error
}

// Close releases what the provider holds (database readers, pollers).
func (b Built) Close() {
	if b.closeFn != nil {
		_ = b.closeFn()
	}
}

// Build constructs every provider of f. On error nothing stays open.
func Build(ctx context.Context, f File, o Options) ([]Built, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	if o.Lookup == nil {
		o.Lookup = func(string) (string, bool) { return "", false }
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	var metrics *resilient.Metrics
	if o.Registerer != nil {
		m, err := resilient.NewMetrics(o.Registerer)
		if err != nil {
			return nil, err
		}
		metrics = m
	}
	var out []Built
	var errs []error
	for i, s := range f.Providers {
		raw, closeFn, err := build(s, o)
		if err != nil {
			errs = append(errs, fmt.Errorf("provider %d (%s): %w", i+1, s.Name, err))
			continue
		}
		pol := resilient.Policy{
			Rate: s.Rate, Burst: s.Burst, Concurrency: s.Concurrency, Timeout: s.Timeout,
			MaxAttempts: s.MaxAttempts, MaxElapsed: s.MaxElapsed,
			BreakerFailures: s.Breaker.Failures, BreakerOpenFor: s.Breaker.OpenFor,
		}
		rp, err := resilient.Wrap(enrichment.Counted(raw), pol, metrics, resilient.WithLogger(o.Logger.With("provider", s.Name)))
		if err != nil {
			if closeFn != nil {
				_ = closeFn()
			}
			errs = append(errs, fmt.Errorf("provider %d (%s): %w", i+1, s.Name, err))
			continue
		}
		out = append(out, Built{Spec: s, Provider: rp, Resilient: rp, closeFn: closeFn})
	}
	if err := errors.Join(errs...); err != nil {
		for _, b := range out {
			b.Close()
		}
		return nil, err
	}
	return out, nil
}

func tlsFor(s Spec) (*tls.Config, error) {
	return tlsconf.Client(s.CAFile)
}

func httpClient(s Spec) (*http.Client, error) {
	cfg, err := tlsFor(s)
	if err != nil {
		return nil, err
	}
	return &http.Client{
		Transport: &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true, MaxIdleConnsPerHost: max(s.Concurrency, 4),
			IdleConnTimeout: 90 * time.Second, TLSHandshakeTimeout: 10 * time.Second},
		// Each attempt has its own deadline (the resilience stack); this
		// only stops a client that would otherwise never give up.
		Timeout: 5 * time.Minute,
	}, nil
}

func secret(o Options, name string) (string, error) {
	if name == "" {
		return "", nil
	}
	v, ok := o.Lookup(name)
	if !ok || v == "" {
		return "", fmt.Errorf("environment variable %s (named by the file) is not set", name)
	}
	return v, nil
}

// build constructs the raw provider of s.
func build(s Spec, o Options) (enrichment.Provider, func() error, error) {
	switch s.Type {
	case TypeGeoIP:
		p, err := geoip.New(geoip.Config{Name: s.Name, Kinds: s.Kinds, Databases: s.GeoIP.Databases,
			ReloadEvery: s.GeoIP.ReloadEvery, Logger: o.Logger.With("provider", s.Name)})
		if err != nil {
			return nil, nil, err
		}
		return p, p.Close, nil
	case TypeDNS:
		cfg, err := tlsFor(s)
		if err != nil {
			return nil, nil, err
		}
		cfg.ServerName = s.DNS.ServerName
		p, err := resolve.New(resolve.Config{Name: s.Name, Kinds: s.Kinds, Server: s.DNS.Server, TLS: cfg,
			Timeout: s.Timeout, MaxAnswers: s.DNS.MaxAnswers})
		if err != nil {
			return nil, nil, err
		}
		return p, nil, nil
	case TypeRDAP:
		hc, err := httpClient(s)
		if err != nil {
			return nil, nil, err
		}
		p, err := rdap.New(rdap.Config{Name: s.Name, Kinds: s.Kinds, BaseURL: s.RDAP.BaseURL, Client: hc})
		if err != nil {
			return nil, nil, err
		}
		return p, closeIdle(hc), nil
	case TypeHTTP:
		hc, err := httpClient(s)
		if err != nil {
			return nil, nil, err
		}
		auth, err := secret(o, s.HTTP.AuthEnv)
		if err != nil {
			return nil, nil, err
		}
		if auth != "" {
			auth = s.HTTP.AuthPrefix + auth
		}
		cfg := httpjson.Config{Name: s.Name, Kinds: s.Kinds, Method: s.HTTP.Method, URL: s.HTTP.URL, Body: s.HTTP.Body,
			Headers: s.HTTP.Headers, AuthHeader: s.HTTP.AuthHeader, AuthValue: auth, Fields: s.HTTP.Fields,
			NotFoundStatus: s.HTTP.NotFoundStatus, Client: hc}
		if v := s.HTTP.Verdict; v != nil {
			cfg.Verdict = &httpjson.VerdictRule{Path: v.Path, Malicious: v.Malicious, Suspicious: v.Suspicious}
		}
		p, err := httpjson.New(cfg)
		if err != nil {
			return nil, nil, err
		}
		return p, closeIdle(hc), nil
	case TypeEmbedding:
		hc, err := httpClient(s)
		if err != nil {
			return nil, nil, err
		}
		key, err := secret(o, s.Embedding.APIKeyEnv)
		if err != nil {
			return nil, nil, err
		}
		p, err := openaiembed.New(openaiembed.Config{Name: s.Name, Kinds: s.Kinds, BaseURL: s.Embedding.BaseURL, Model: s.Embedding.Model,
			APIKey: key, Dimensions: s.Embedding.Dimensions, SendDimensions: s.Embedding.SendDimensions, Client: hc})
		if err != nil {
			return nil, nil, err
		}
		return p, closeIdle(hc), nil
	}
	return nil, nil, fmt.Errorf("unknown type %q", s.Type)
}

func closeIdle(hc *http.Client) func() error {
	return func() error { hc.CloseIdleConnections(); return nil }
}
