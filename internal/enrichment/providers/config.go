package providers

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"time"

	"gopkg.in/yaml.v3"
)

// File is the providers file.
type File struct {
	Providers []Spec `yaml:"providers"`
}

// Spec configures one provider.
type Spec struct {
	Name        string        `yaml:"name"`
	Type        string        `yaml:"type"`
	Kinds       []string      `yaml:"kinds"`
	TTL         time.Duration `yaml:"ttl"`
	NegativeTTL time.Duration `yaml:"negative_ttl"`
	Rate        float64       `yaml:"rate"`
	Burst       int           `yaml:"burst"`
	Concurrency int           `yaml:"concurrency"`
	Timeout     time.Duration `yaml:"timeout"`
	MaxAttempts int           `yaml:"max_attempts"`
	MaxElapsed  time.Duration `yaml:"max_elapsed"`
	Breaker     struct {
		Failures uint32        `yaml:"failures"`
		OpenFor  time.Duration `yaml:"open_for"`
	} `yaml:"breaker"`
	// CAFile, when set, is the only CA bundle trusted for this provider;
	// otherwise the system roots are.
	CAFile    string         `yaml:"ca_file"`
	GeoIP     *GeoIPSpec     `yaml:"geoip"`
	DNS       *DNSSpec       `yaml:"dns"`
	RDAP      *RDAPSpec      `yaml:"rdap"`
	HTTP      *HTTPSpec      `yaml:"http"`
	Embedding *EmbeddingSpec `yaml:"embedding"`
}

// GeoIPSpec configures a geoip provider.
type GeoIPSpec struct {
	Databases   []string      `yaml:"databases"`
	ReloadEvery time.Duration `yaml:"reload_every"`
}

// DNSSpec configures a dns provider (DNS over TLS).
type DNSSpec struct {
	Server     string `yaml:"server"`
	ServerName string `yaml:"server_name"`
	MaxAnswers int    `yaml:"max_answers"`
}

// RDAPSpec configures an rdap provider.
type RDAPSpec struct {
	BaseURL string `yaml:"base_url"`
}

// HTTPSpec configures a generic HTTP JSON provider.
type HTTPSpec struct {
	Method     string            `yaml:"method"`
	URL        string            `yaml:"url"`
	Body       string            `yaml:"body"`
	Headers    map[string]string `yaml:"headers"`
	AuthHeader string            `yaml:"auth_header"`
	// AuthEnv names the environment variable holding the secret; AuthPrefix
	// goes before it (for example "Bearer ").
	AuthEnv        string            `yaml:"auth_env"`
	AuthPrefix     string            `yaml:"auth_prefix"`
	Fields         map[string]string `yaml:"fields"`
	NotFoundStatus []int             `yaml:"not_found_status"`
	Verdict        *struct {
		Path       string  `yaml:"path"`
		Malicious  float64 `yaml:"malicious"`
		Suspicious float64 `yaml:"suspicious"`
	} `yaml:"verdict"`
}

// EmbeddingSpec configures an OpenAI-compatible embeddings provider.
type EmbeddingSpec struct {
	BaseURL        string `yaml:"base_url"`
	Model          string `yaml:"model"`
	Dimensions     int    `yaml:"dimensions"`
	SendDimensions bool   `yaml:"send_dimensions"`
	APIKeyEnv      string `yaml:"api_key_env"`
}

// Types of provider.
const (
	TypeGeoIP     = "geoip"
	TypeDNS       = "dns"
	TypeRDAP      = "rdap"
	TypeHTTP      = "http"
	TypeEmbedding = "embedding"
)

var validName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// Load reads and validates a providers file. Errors name the provider and
// the setting; they never echo secrets (the file holds none).
func Load(path string) (File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return File{}, fmt.Errorf("reading the providers file: %w", err)
	}
	return Parse(b)
}

// Parse decodes and validates a providers file's content.
func Parse(b []byte) (File, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return File{}, fmt.Errorf("parsing the providers file: %w", err)
	}
	return f, f.Validate()
}

// Validate checks every provider and collects every problem.
func (f File) Validate() error {
	var errs []error
	seen := map[string]bool{}
	if len(f.Providers) == 0 {
		errs = append(errs, errors.New("providers: the file names no provider"))
	}
	for i, s := range f.Providers {
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("provider %d (%s): %s", i+1, s.Name, fmt.Sprintf(format, args...)))
		}
		if !validName.MatchString(s.Name) {
			bad("name must be 1 to 64 lower-case letters, digits, '_' or '-'")
		}
		if seen[s.Name] {
			bad("name is not unique")
		}
		seen[s.Name] = true
		sections := 0
		for _, set := range []bool{s.GeoIP != nil, s.DNS != nil, s.RDAP != nil, s.HTTP != nil, s.Embedding != nil} {
			if set {
				sections++
			}
		}
		want := map[string]bool{TypeGeoIP: s.GeoIP != nil, TypeDNS: s.DNS != nil, TypeRDAP: s.RDAP != nil, TypeHTTP: s.HTTP != nil, TypeEmbedding: s.Embedding != nil}
		has, known := want[s.Type]
		switch {
		case !known:
			bad("type must be geoip, dns, rdap, http or embedding")
		case !has || sections != 1:
			bad("needs exactly its own %q section", s.Type)
		}
		if s.TTL < 0 || s.NegativeTTL < 0 || s.Timeout < 0 || s.MaxElapsed < 0 || s.Breaker.OpenFor < 0 {
			bad("durations must not be negative")
		}
		if s.Rate < 0 || s.Burst < 0 || s.Concurrency < 0 || s.MaxAttempts < 0 {
			bad("rate, burst, concurrency and max_attempts must not be negative")
		}
		if s.Type == TypeHTTP && s.HTTP != nil && len(s.Kinds) == 0 {
			bad("an http provider must name its kinds")
		}
	}
	return errors.Join(errs...)
}
