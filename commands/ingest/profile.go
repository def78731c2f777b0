package ingest

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

//go:embed profiles/*.yaml
var builtinProfiles embed.FS

// Profile maps the fields of a source's records to observables and the
// relationships between them. It is declarative: users add their own as YAML
// files without code.
type Profile struct {
	Name        string         `yaml:"name"`
	Version     int            `yaml:"version"`
	TimeFields  []string       `yaml:"time_fields"`
	Observables []ObservableOf `yaml:"observables"`
	Relations   []RelationOf   `yaml:"relations"`
}

// ObservableOf names the fields that hold one observable.
type ObservableOf struct {
	Name   string   `yaml:"name"`
	Kind   string   `yaml:"kind"`
	Fields []string `yaml:"fields"`
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
var knownKinds = map[string]bool{
	"ip": true, "ipv4-addr": true, "ipv6-addr": true, "domain-name": true, "url": true, "file": true,
	"mac-addr": true,
}

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
		if len(o.Fields) == 0 {
			bad("observable %q: no fields", o.Name)
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
	return errors.Join(errs...)
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

// lookup finds a field of a record: a literal key first, then a dotted path.
func lookup(rec map[string]any, field string) (any, bool) {
	if v, ok := rec[field]; ok {
		return v, true
	}
	if !strings.Contains(field, ".") {
		return nil, false
	}
	var cur any = rec
	for _, part := range strings.Split(field, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}
