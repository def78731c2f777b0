// Package schemaregistry is Heimdall's client of a Confluent-compatible
// schema registry (Confluent Schema Registry, Karapace, Apicurio's ccompat
// API, ...), over HTTPS with TLS 1.3 only. It implements events.Registry, and
// NewCodec builds the event codec from the configuration: the
// single-object encoding when no registry is configured, else
// schema-registry mode (see package events and schemas/README.md).
package schemaregistry

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/heimdallhub/heimdall/events"
)

// contentType is the registry API's media type.
const contentType = "application/vnd.schemaregistry.v1+json"

// maxResponse bounds what one registry response may hold.
const maxResponse = 16 << 20

// Client talks to one registry. It is safe for concurrent use.
type Client struct {
	base     *url.URL
	http     *http.Client
	user     string
	password string
	attempts int
}

// Option configures New.
type Option func(*Client)

// WithBasicAuth sends HTTP basic authentication, from "user:password".
func WithBasicAuth(userInfo string) Option {
	return func(c *Client) {
		if userInfo == "" {
			return
		}
		c.user, c.password, _ = strings.Cut(userInfo, ":")
	}
}

// WithTimeout limits each HTTP request (default 15s).
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.http.Timeout = d } }

// WithAttempts sets how often a request that failed in transit or with a 5xx
// status is tried in all (default 4).
func WithAttempts(n int) Option {
	return func(c *Client) {
		if n >= 1 {
			c.attempts = n
		}
	}
}

// New returns a client of the registry at rawURL, an https URL (a path, as
// in https://host/apis/ccompat/v7, is the API's root). tlsConf supplies the
// trusted roots; the client speaks TLS 1.3 only whatever it says. Error
// messages never quote the URL.
func New(rawURL string, tlsConf *tls.Config, opts ...Option) (*Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, errors.New("schema registry URL must be an https URL")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("schema registry URL must have no user info, query or fragment (credentials go in HEIMDALL_SCHEMA_REGISTRY_BASIC_AUTH)")
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	cfg := &tls.Config{}
	if tlsConf != nil {
		cfg = tlsConf.Clone()
	}
	cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS13, tls.VersionTLS13
	transport := &http.Transport{
		TLSClientConfig:     cfg,
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
	}
	c := &Client{base: u, http: &http.Client{Transport: transport, Timeout: 15 * time.Second}, attempts: 4}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// Close releases idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// Error is an error answer of the registry.
type Error struct {
	Status  int    // HTTP status
	Code    int    // the registry's error_code, e.g. 40401, 409
	Message string // the registry's message
}

func (e *Error) Error() string {
	msg := e.Message
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	return fmt.Sprintf("schema registry answered HTTP %d (error code %d): %s", e.Status, e.Code, msg)
}

// Confluent error codes.
const (
	codeSubjectNotFound      = 40401
	codeVersionNotFound      = 40402
	codeSchemaNotFound       = 40403
	codeIncompatible         = 409
	codeInvalidSchema        = 42201
	codeInvalidCompatibility = 42203
)

// Is maps the registry's error codes to the errors package events defines.
func (e *Error) Is(target error) bool {
	switch target {
	case events.ErrSubjectNotFound:
		return e.Code == codeSubjectNotFound || (e.Status == http.StatusNotFound && e.Code == 0)
	case events.ErrSchemaNotFound:
		return e.Code == codeSchemaNotFound || (e.Status == http.StatusNotFound && e.Code == 0)
	case ErrIncompatible:
		return e.Code == codeIncompatible || e.Status == http.StatusConflict
	}
	return false
}

// ErrIncompatible matches (errors.Is) the registry's refusal of a schema
// that breaks the subject's compatibility level.
var ErrIncompatible = errors.New("schema is incompatible with the subject's compatibility level")

var _ events.Registry = (*Client)(nil)

// SetCompatibility sets the compatibility level of subject.
func (c *Client) SetCompatibility(ctx context.Context, subject, level string) error {
	var out struct {
		Compatibility string `json:"compatibility"`
	}
	return c.do(ctx, http.MethodPut, "config/"+url.PathEscape(subject), map[string]string{"compatibility": level}, &out)
}

// Compatibility returns the compatibility level set on subject itself.
func (c *Client) Compatibility(ctx context.Context, subject string) (string, error) {
	var out struct {
		Level         string `json:"compatibilityLevel"`
		Compatibility string `json:"compatibility"`
	}
	if err := c.do(ctx, http.MethodGet, "config/"+url.PathEscape(subject), nil, &out); err != nil {
		return "", err
	}
	if out.Level != "" {
		return out.Level, nil
	}
	return out.Compatibility, nil
}

// Register registers an Avro schema under subject (or finds it registered)
// and returns its id.
func (c *Client) Register(ctx context.Context, subject, schema string) (int, error) {
	var out struct {
		ID *int `json:"id"`
	}
	if err := c.do(ctx, http.MethodPost, "subjects/"+url.PathEscape(subject)+"/versions", map[string]string{"schema": schema}, &out); err != nil {
		return 0, err
	}
	if out.ID == nil {
		return 0, errors.New("schema registry registration answer has no id")
	}
	return *out.ID, nil
}

// SchemaByID returns the schema text of id.
func (c *Client) SchemaByID(ctx context.Context, id int) (string, error) {
	var out struct {
		Schema     string `json:"schema"`
		SchemaType string `json:"schemaType"`
	}
	if err := c.do(ctx, http.MethodGet, "schemas/ids/"+strconv.Itoa(id), nil, &out); err != nil {
		return "", err
	}
	if out.SchemaType != "" && !strings.EqualFold(out.SchemaType, "AVRO") {
		return "", fmt.Errorf("schema id %d is a %s schema, not Avro", id, out.SchemaType)
	}
	if out.Schema == "" {
		return "", fmt.Errorf("schema registry answer for id %d has no schema", id)
	}
	return out.Schema, nil
}

// Subjects lists the registry's subjects.
func (c *Client) Subjects(ctx context.Context) ([]string, error) {
	var out []string
	err := c.do(ctx, http.MethodGet, "subjects", nil, &out)
	return out, err
}

// Versions lists the versions registered under subject.
func (c *Client) Versions(ctx context.Context, subject string) ([]int, error) {
	var out []int
	err := c.do(ctx, http.MethodGet, "subjects/"+url.PathEscape(subject)+"/versions", nil, &out)
	return out, err
}

// SubjectVersion is one version of a subject.
type SubjectVersion struct {
	Subject string `json:"subject"`
	Version int    `json:"version"`
	ID      int    `json:"id"`
	Schema  string `json:"schema"`
}

// Version returns one version of subject ("latest" or a number).
func (c *Client) Version(ctx context.Context, subject, version string) (SubjectVersion, error) {
	var out SubjectVersion
	err := c.do(ctx, http.MethodGet, "subjects/"+url.PathEscape(subject)+"/versions/"+url.PathEscape(version), nil, &out)
	return out, err
}

// Compatible asks whether schema could be registered under subject, checked
// against the versions its compatibility level names.
func (c *Client) Compatible(ctx context.Context, subject, schema string) (bool, error) {
	var out struct {
		IsCompatible bool `json:"is_compatible"`
	}
	err := c.do(ctx, http.MethodPost, "compatibility/subjects/"+url.PathEscape(subject)+"/versions/latest", map[string]string{"schema": schema}, &out)
	return out.IsCompatible, err
}

// do sends one request, trying again on transport errors and 5xx answers.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	u := *c.base
	u.RawPath = c.base.EscapedPath() + "/" + path
	unescaped, err := url.PathUnescape(u.RawPath)
	if err != nil {
		return err
	}
	u.Path = unescaped
	var last error
	for attempt := 0; attempt < c.attempts; attempt++ {
		if attempt > 0 {
			wait := time.Duration(100<<attempt) * time.Millisecond
			select {
			case <-ctx.Done():
				return fmt.Errorf("%w (last: %v)", ctx.Err(), last)
			case <-time.After(wait):
			}
		}
		retry, err := c.once(ctx, method, u.String(), body, out)
		if err == nil {
			return nil
		}
		last = err
		if !retry || ctx.Err() != nil {
			return err
		}
	}
	return last
}

func (c *Client) once(ctx context.Context, method, target string, body []byte, out any) (retry bool, err error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return false, err
	}
	req.Header.Set("Accept", contentType+", application/json")
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	if c.user != "" || c.password != "" {
		req.SetBasicAuth(c.user, c.password)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		// url.Error quotes the URL: keep only the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return true, fmt.Errorf("schema registry request %s %s: %w", method, stripBase(target), err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return true, fmt.Errorf("reading the schema registry's answer: %w", err)
	}
	if len(b) > maxResponse {
		return false, errors.New("schema registry answer is too large")
	}
	if resp.StatusCode/100 != 2 {
		e := &Error{Status: resp.StatusCode}
		var eb struct {
			Code    int    `json:"error_code"`
			Message string `json:"message"`
		}
		if json.Unmarshal(b, &eb) == nil {
			e.Code, e.Message = eb.Code, eb.Message
		}
		if e.Message == "" {
			e.Message = http.StatusText(resp.StatusCode)
		}
		return resp.StatusCode >= 500, e
	}
	if out == nil {
		return false, nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return false, fmt.Errorf("decoding the schema registry's answer: %w", err)
	}
	return false, nil
}

// stripBase keeps the API path of a request URL for messages.
func stripBase(target string) string {
	if u, err := url.Parse(target); err == nil {
		return u.Path
	}
	return ""
}
