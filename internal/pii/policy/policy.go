package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Action is what the PII layer does with a field value.
type Action string

// The actions a policy may name.
const (
	ActionKeep         Action = "keep"
	ActionDrop         Action = "drop"
	ActionMask         Action = "mask"
	ActionPseudonymise Action = "pseudonymise"
	ActionEncrypt      Action = "encrypt"
	ActionTokenise     Action = "tokenise"
	// ActionScrub keeps free text (messages, URLs, user agents, paths) with
	// the personal data the detectors find in it replaced by pseudonyms.
	ActionScrub Action = "scrub"
)

// Valid reports whether a is one of the known actions.
func (a Action) Valid() bool {
	switch a {
	case ActionKeep, ActionDrop, ActionMask, ActionPseudonymise, ActionEncrypt, ActionTokenise, ActionScrub:
		return true
	}
	return false
}

// Mask says how a masked value is partially scrubbed. Exactly one family is set:
// KeepDomain (e-mail), IPv4Prefix/IPv6Prefix (IP addresses) or KeepLast.
type Mask struct {
	KeepDomain bool `yaml:"keep_domain"`
	IPv4Prefix int  `yaml:"ipv4_prefix"`
	IPv6Prefix int  `yaml:"ipv6_prefix"`
	KeepLast   int  `yaml:"keep_last"`
}

func (m Mask) isZero() bool { return m == Mask{} }

// Rule is the resolved treatment of one field.
type Rule struct {
	PolicyVersion string // version of the policy the rule came from
	Profile       string // profile that matched ("*" or a name; "" for the default)
	Pattern       string // field path or glob that matched ("" for the default)
	Level         string // classification level name
	LevelRank     int    // index of Level in the policy's levels (0 = lowest)
	Action        Action
	Kind          string // domain-separation label for pseudonymise/tokenise
	Mask          Mask
	Default       bool // true when no profile rule named the field
}

// Policy is a parsed, validated, immutable PII policy.
type Policy struct {
	version  string
	levels   []string
	def      Rule
	profiles map[string]*profile
}

type profile struct {
	exact map[string]Rule
	globs []Rule // sorted: longest pattern first, then lexical
}

type fileRule struct {
	Level  string `yaml:"level"`
	Action Action `yaml:"action"`
	Kind   string `yaml:"kind"`
	Mask   *Mask  `yaml:"mask"`
}

type fileProfile struct {
	Fields map[string]fileRule `yaml:"fields"`
}

type file struct {
	Version  string                 `yaml:"version"`
	Levels   []string               `yaml:"levels"`
	Default  *fileRule              `yaml:"default"`
	Profiles map[string]fileProfile `yaml:"profiles"`
}

var (
	versionRE = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}\.[0-9]+$`)
	kindRE    = regexp.MustCompile(`^[a-z][a-z0-9_.-]{0,63}$`)
)

// MaxPolicySize bounds the policy file Parse accepts.
const MaxPolicySize = 1 << 20

// ErrInvalid wraps every validation problem returned by Parse.
var ErrInvalid = errors.New("pii policy invalid")

// Parse decodes and validates a policy, reporting all problems at once.
func Parse(data []byte) (*Policy, error) {
	if len(data) > MaxPolicySize {
		return nil, fmt.Errorf("%w: file larger than %d bytes", ErrInvalid, MaxPolicySize)
	}
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: empty policy", ErrInvalid)
		}
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: policy must be a single YAML document", ErrInvalid)
	}

	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...))
	}

	p := &Policy{version: f.Version, profiles: map[string]*profile{}}
	if f.Version == "" {
		bad("version is missing")
	} else if !versionRE.MatchString(f.Version) {
		bad("version %q is not of the form YYYY-MM-DD.N", f.Version)
	}

	rank := map[string]int{}
	if len(f.Levels) == 0 {
		bad("levels is missing or empty")
	}
	for i, l := range f.Levels {
		if strings.TrimSpace(l) == "" {
			bad("levels[%d] is empty", i)
			continue
		}
		if _, dup := rank[l]; dup {
			bad("levels[%d] %q is a duplicate", i, l)
			continue
		}
		rank[l] = i
		p.levels = append(p.levels, l)
	}
	highest := len(f.Levels) - 1

	if f.Default == nil {
		bad("default is missing")
	} else {
		d := *f.Default
		r, ok := rank[d.Level]
		switch {
		case d.Level == "":
			bad("default.level is missing")
		case !ok:
			bad("default.level %q is not one of levels", d.Level)
		case r != highest:
			bad("default.level %q must be the highest level", d.Level)
		}
		if d.Action != ActionDrop {
			bad("default.action must be drop (fields the policy does not name are never stored)")
		}
		if d.Kind != "" || d.Mask != nil {
			bad("default takes neither kind nor mask")
		}
		p.def = Rule{PolicyVersion: f.Version, Level: d.Level, LevelRank: r, Action: ActionDrop, Default: true}
	}

	if len(f.Profiles) == 0 {
		bad("profiles is missing or empty")
	}
	for _, pname := range sortedKeys(f.Profiles) {
		fp := f.Profiles[pname]
		if strings.TrimSpace(pname) == "" {
			bad("profile name is empty")
			continue
		}
		pr := &profile{exact: map[string]Rule{}}
		if len(fp.Fields) == 0 {
			bad("profile %q has no fields", pname)
		}
		for _, field := range sortedKeys(fp.Fields) {
			fr := fp.Fields[field]
			where := fmt.Sprintf("profiles[%q].fields[%q]", pname, field)
			glob := isGlob(field)
			if strings.TrimSpace(field) == "" {
				bad("profile %q has an empty field path", pname)
				continue
			}
			if glob {
				if _, err := path.Match(globPattern(field), ""); err != nil {
					bad("%s: bad glob pattern", where)
					continue
				}
			}
			rule := Rule{PolicyVersion: f.Version, Profile: pname, Pattern: field, Level: fr.Level, Action: fr.Action, Kind: fr.Kind}
			if fr.Mask != nil {
				rule.Mask = *fr.Mask
			}
			if errs2 := validateRule(where, fr, rank, glob); len(errs2) > 0 {
				errs = append(errs, errs2...)
				continue
			}
			rule.LevelRank = rank[fr.Level]
			if glob {
				pr.globs = append(pr.globs, rule)
			} else {
				pr.exact[field] = rule
			}
		}
		sort.SliceStable(pr.globs, func(i, j int) bool {
			a, b := pr.globs[i].Pattern, pr.globs[j].Pattern
			if len(a) != len(b) {
				return len(a) > len(b)
			}
			return a < b
		})
		p.profiles[pname] = pr
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

func validateRule(where string, fr fileRule, rank map[string]int, glob bool) []error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: "+format, append([]any{ErrInvalid, where}, args...)...))
	}
	r, ok := rank[fr.Level]
	switch {
	case fr.Level == "":
		bad("level is missing")
	case !ok:
		bad("level %q is not one of levels", fr.Level)
	}
	switch {
	case fr.Action == "":
		bad("action is missing")
	case !fr.Action.Valid():
		bad("action %q is unknown (keep|drop|mask|pseudonymise|encrypt|tokenise|scrub)", string(fr.Action))
	}
	if fr.Action == ActionKeep {
		if ok && r != 0 {
			bad("keep is only allowed at the lowest level (non-personal fields)")
		}
		if glob {
			bad("keep must name an exact field path, not a glob")
		}
	}
	needsKind := fr.Action == ActionPseudonymise || fr.Action == ActionTokenise
	switch {
	case needsKind && fr.Kind == "":
		bad("%s needs a kind (domain-separation label, e.g. ip or email)", string(fr.Action))
	case needsKind && !kindRE.MatchString(fr.Kind):
		bad("kind %q must match %s", fr.Kind, kindRE.String())
	case !needsKind && fr.Kind != "":
		bad("kind is only meaningful for pseudonymise and tokenise")
	}
	if fr.Action == ActionMask {
		if fr.Mask == nil || fr.Mask.isZero() {
			bad("mask action needs a mask (keep_domain, ipv4_prefix/ipv6_prefix or keep_last)")
		} else {
			errs = append(errs, validateMask(where, *fr.Mask)...)
		}
	} else if fr.Mask != nil {
		bad("mask is only allowed with action mask")
	}
	return errs
}

func validateMask(where string, m Mask) []error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: mask: "+format, append([]any{ErrInvalid, where}, args...)...))
	}
	families := 0
	if m.KeepDomain {
		families++
	}
	if m.IPv4Prefix != 0 || m.IPv6Prefix != 0 {
		families++
	}
	if m.KeepLast != 0 {
		families++
	}
	if families > 1 {
		bad("set exactly one of keep_domain, ipv4_prefix/ipv6_prefix, keep_last")
	}
	// A prefix equal to the full address length would keep the whole address.
	if m.IPv4Prefix < 0 || m.IPv4Prefix > 31 {
		bad("ipv4_prefix must be within 0..31")
	}
	if m.IPv6Prefix < 0 || m.IPv6Prefix > 127 {
		bad("ipv6_prefix must be within 0..127")
	}
	if m.KeepLast < 0 || m.KeepLast > 8 {
		bad("keep_last must be within 1..8")
	}
	return errs
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Version is the policy version to record on every event it was applied to.
func (p *Policy) Version() string { return p.version }

// Levels returns the classification levels, lowest first.
func (p *Policy) Levels() []string { return append([]string(nil), p.levels...) }

// Default returns the rule for fields the policy does not name.
func (p *Policy) Default() Rule { return p.def }

// Rule resolves the rule for a field of a source profile: exact field in the
// profile, the profile's globs, then the same in the "*" profile, then the
// default (highest level, drop).
func (p *Policy) Rule(profileName, fieldPath string) Rule {
	if pr, ok := p.profiles[profileName]; ok && profileName != "*" {
		if r, ok := pr.match(fieldPath); ok {
			return r
		}
	}
	if pr, ok := p.profiles["*"]; ok {
		if r, ok := pr.match(fieldPath); ok {
			return r
		}
	}
	return p.def
}

func (pr *profile) match(field string) (Rule, bool) {
	if r, ok := pr.exact[field]; ok {
		return r, true
	}
	for _, r := range pr.globs {
		if ok, _ := path.Match(globPattern(r.Pattern), field); ok {
			return r, true
		}
	}
	return Rule{}, false
}

// arrayStep is the path segment suffix that walks every element of an
// array ("dns.answers[].rdata"); it is literal, not a glob class.
const arrayStep = "[]"

// isGlob reports whether a field path holds glob syntax besides "[]".
func isGlob(field string) bool {
	return strings.ContainsAny(strings.ReplaceAll(field, arrayStep, ""), "*?[\\")
}

// globPattern makes the literal "[]" of a pattern match itself.
func globPattern(p string) string {
	return strings.ReplaceAll(p, arrayStep, `\[\]`)
}

// Kinds returns the sorted set of kinds the policy's rules of action a name
// (for example every tokenise kind, to open a token whose kind is unknown).
func (p *Policy) Kinds(a Action) []string {
	seen := map[string]bool{}
	for _, pr := range p.profiles {
		for _, r := range pr.exact {
			if r.Action == a && r.Kind != "" {
				seen[r.Kind] = true
			}
		}
		for _, r := range pr.globs {
			if r.Action == a && r.Kind != "" {
				seen[r.Kind] = true
			}
		}
	}
	return sortedKeys(seen)
}
