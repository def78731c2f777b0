package ingest

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

//go:embed profiles/*.yaml
var builtinProfiles embed.FS

// Profile maps the fields of a source's records to observables and the
// relationships between them. It is declarative: users add their own as YAML
// files without code.
type Profile struct {
	Name        string `yaml:"name"`
	Version     int    `yaml:"version"`
	Description string `yaml:"description"`
	// Match says which records the profile is chosen for when an upload
	// does not name one.
	Match      Match    `yaml:"match"`
	TimeFields []string `yaml:"time_fields"`
	// TimeZone is the IANA zone of timestamps that carry none (UTC if empty).
	TimeZone    string         `yaml:"time_zone"`
	Observables []ObservableOf `yaml:"observables"`
	Relations   []RelationOf   `yaml:"relations"`

	loc *time.Location
}

// Match selects a profile by input format and the facts a format reports
// about a record (format.Record.Meta, for example zeek.path or
// eve.event_type). Empty means any.
type Match struct {
	Formats []string          `yaml:"formats"`
	Meta    map[string]string `yaml:"meta"`
}

// ObservableOf names the fields that hold one observable.
type ObservableOf struct {
	Name string `yaml:"name"`
	Kind string `yaml:"kind"`
	// Fields are tried in order; the first present is used. A path segment
	// "[]" walks every element of an array ("dns.answers[].rdata").
	Fields []string `yaml:"fields"`
	// Template builds the value from several fields ("http://{host}{uri}");
	// the observable is absent unless every field it names is present.
	Template string `yaml:"template"`
	// Hashes, for kind file and x509-certificate, maps STIX hash names
	// (MD5, SHA-1, SHA-256, SHA-512) to the fields holding them; they form
	// one observable.
	Hashes map[string][]string `yaml:"hashes"`
	// OnInvalid is "reject" (the default: the record is rejected) or
	// "skip" (the value is ignored, for fields that mix kinds).
	OnInvalid string `yaml:"on_invalid"`
}

// RelationOf says two observables of a record are related.
type RelationOf struct {
	From       string              `yaml:"from"`
	Type       string              `yaml:"type"`
	To         string              `yaml:"to"`
	Attributes map[string][]string `yaml:"attributes"`
}

var (
	relationType = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,62}$`)
	attrName     = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)
)

// knownKinds are the kinds a profile may name; "ip" means IPv4 or IPv6.
// The personal kinds (email-addr, user-account) are offered because every
// value goes through the PII policy, which pseudonymises or encrypts them
// (the built-in policy encrypts them; their graph keys derive from
// pseudonyms, so equal values still join).
var knownKinds = map[string]bool{
	"ip": true, "ipv4-addr": true, "ipv6-addr": true, "domain-name": true, "url": true, "file": true,
	"mac-addr": true, "host": true, "x509-certificate": true, "autonomous-system": true,
	"alert-signature": true, "user-agent": true, "email-addr": true, "user-account": true,
}

var templateField = regexp.MustCompile(`\{([^{}]+)\}`)

// ParseProfile reads and validates a YAML profile, reporting every problem.
func ParseProfile(b []byte) (*Profile, error) {
	var p Profile
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("parsing profile: %w", err)
	}
	return &p, p.Validate()
}

// Validate reports every problem of p.
func (p *Profile) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("profile %q: "+format, append([]any{p.Name}, args...)...))
	}
	if p.Name == "" {
		bad("no name")
	}
	if p.Version < 1 {
		bad("version must be 1 or more")
	}
	names := map[string]bool{}
	for i, o := range p.Observables {
		switch {
		case o.Name == "":
			bad("observable %d has no name", i)
		case names[o.Name]:
			bad("observable %q named twice", o.Name)
		}
		names[o.Name] = true
		if !knownKinds[o.Kind] {
			bad("observable %q: unknown kind %q", o.Name, o.Kind)
		}
		sources := 0
		for _, n := range []int{len(o.Fields), len(o.Hashes)} {
			if n > 0 {
				sources++
			}
		}
		if o.Template != "" {
			sources++
			if len(templateField.FindAllString(o.Template, -1)) == 0 {
				bad("observable %q: template names no {field}", o.Name)
			}
		}
		if sources != 1 {
			bad("observable %q: needs exactly one of fields, template or hashes (no fields given, or several)", o.Name)
		}
		if len(o.Hashes) > 0 && o.Kind != "file" && o.Kind != "x509-certificate" {
			bad("observable %q: hashes only for kinds file and x509-certificate", o.Name)
		}
		if o.OnInvalid != "" && o.OnInvalid != "reject" && o.OnInvalid != "skip" {
			bad("observable %q: on_invalid must be reject or skip", o.Name)
		}
	}
	for i, r := range p.Relations {
		if !names[r.From] {
			bad("relation %d: from %q is not an observable of the profile", i, r.From)
		}
		if !names[r.To] {
			bad("relation %d: to %q is not an observable of the profile", i, r.To)
		}
		if !relationType.MatchString(r.Type) {
			bad("relation %d: type %q must match %s", i, r.Type, relationType)
		}
		for a, fields := range r.Attributes {
			if !attrName.MatchString(a) || len(fields) == 0 {
				bad("relation %d: attribute %q needs a lower-case name and fields", i, a)
			}
		}
	}
	if len(p.Observables) == 0 {
		bad("no observables")
	}
	p.loc = time.UTC
	if p.TimeZone != "" {
		loc, err := time.LoadLocation(p.TimeZone)
		if err != nil {
			bad("time_zone %q is not an IANA time zone", p.TimeZone)
		} else {
			p.loc = loc
		}
	}
	return errors.Join(errs...)
}

// LoadProfiles reads every *.yaml profile of dir (a user's own profiles).
func LoadProfiles(dir string) (map[string]*Profile, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	out := map[string]*Profile{}
	var errs []error
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p, err := ParseProfile(b)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f, err))
			continue
		}
		out[p.Name] = p
	}
	return out, errors.Join(errs...)
}

// BuiltinProfiles returns the profiles shipped with Heimdall, by name.
func BuiltinProfiles() (map[string]*Profile, error) {
	files, err := fs.Glob(builtinProfiles, "profiles/*.yaml")
	if err != nil {
		return nil, err
	}
	out := map[string]*Profile{}
	for _, f := range files {
		b, err := builtinProfiles.ReadFile(f)
		if err != nil {
			return nil, err
		}
		p, err := ParseProfile(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		out[p.Name] = p
	}
	return out, nil
}

// Matches reports whether the profile is meant for a record of this format
// with these facts.
func (p *Profile) Matches(formatName string, meta map[string]string) bool {
	if len(p.Match.Formats) > 0 && !slices.Contains(p.Match.Formats, formatName) {
		return false
	}
	for k, v := range p.Match.Meta {
		if meta[k] != v {
			return false
		}
	}
	return true
}

// specificity orders candidate profiles: more conditions first.
func (p *Profile) specificity() int {
	n := len(p.Match.Meta) * 2
	if len(p.Match.Formats) > 0 {
		n++
	}
	return n
}

// lookup finds a field of a record: a literal key first, then a dotted path
// in which "name[]" walks every element of an array (the result is then a
// []any of what was found).
func lookup(rec map[string]any, field string) (any, bool) {
	if v, ok := rec[field]; ok {
		return v, true
	}
	if !strings.ContainsAny(field, ".[") {
		return nil, false
	}
	return walk(rec, strings.Split(field, "."))
}

func walk(cur any, parts []string) (any, bool) {
	for i, part := range parts {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		name, each := strings.CutSuffix(part, "[]")
		if cur, ok = m[name]; !ok {
			return nil, false
		}
		if !each {
			continue
		}
		arr, ok := cur.([]any)
		if !ok {
			return nil, false
		}
		var out []any
		for _, el := range arr {
			if v, ok := walk(el, parts[i+1:]); ok {
				if vs, many := v.([]any); many {
					out = append(out, vs...)
				} else {
					out = append(out, v)
				}
			}
		}
		return out, len(out) > 0
	}
	return cur, true
}
