package ingest

import (
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/internal/observable"
	"github.com/heimdallhub/heimdall/internal/observable/timestamp"
	"github.com/heimdallhub/heimdall/internal/pii/policy"
)

// mappingError rejects a record; reason never quotes input values.
type mappingError struct{ code, reason string }

func (e *mappingError) Error() string { return e.code + ": " + e.reason }

type entity struct {
	name  string // the profile's observable name
	key   string
	kind  string
	value string
	// rank is the classification rank (policy level index) of the field
	// the value came from; personal is set when the policy did not keep or
	// scrub the value, so its key is derived from its pseudonym.
	rank     int
	personal bool
}

type relation struct {
	key   string
	typ   string
	from  entity
	to    entity
	attrs []events.Attribute
	rank  int
}

func (r relation) payload(at time.Time) events.RelationObserved {
	attrs := r.attrs
	if attrs == nil {
		attrs = []events.Attribute{}
	}
	return events.RelationObserved{
		RelationType: r.typ,
		Source:       events.Endpoint{Key: r.from.key, Kind: r.from.kind, Value: r.from.value},
		Target:       events.Endpoint{Key: r.to.key, Kind: r.to.kind, Value: r.to.value},
		ObservedAt:   at,
		Attributes:   attrs,
	}
}

type mapped struct {
	observedAt time.Time
	entities   []entity // distinct by key, in profile order
	relations  []relation
}

// Guard is what ingest needs of the PII layer (package pii's Engine): the
// rule of every field, and the actions.
type Guard interface {
	// Version of the policy, recorded on every event.
	Version() string
	// Rule resolves the rule of a field of a source profile.
	Rule(profile, field string) policy.Rule
	// Apply transforms a value of a field of a record; drop means it must
	// not be stored.
	Apply(rule policy.Rule, recordKey, field, value string) (out string, drop bool, err error)
	// Pseudonym is the keyed pseudonym of a value in a domain.
	Pseudonym(kind, value string) string
	// Level names a classification rank.
	Level(rank int) string
}

// EntityValueField is the field path an entity's sealed value is bound to
// (with the entity key as the record); a relation attribute's is
// "attributes.<name>" with the relation key.
const EntityValueField = "value"

// AttributeField is the field path a relation attribute's sealed value is
// bound to.
func AttributeField(name string) string { return "attributes." + name }

// policyError rejects a record whose value the PII layer could not treat;
// no part of the value is stored.
var policyError = &mappingError{"policy_error", "a field could not be treated by the PII policy"}

// mapRecord applies a profile and the PII policy to one record. Every value
// goes through the policy rule of the field it was read from: dropped values
// are never stored, personal ones reach the log only transformed and get
// keys derived from their pseudonyms.
func mapRecord(p *Profile, g Guard, rec map[string]any, now time.Time) (mapped, error) {
	m := mapped{observedAt: now.UTC()}
	for _, f := range p.TimeFields {
		v, ok := lookup(rec, f)
		if !ok || v == nil {
			continue
		}
		s, ok := scalar(v)
		if !ok {
			return m, &mappingError{"invalid_timestamp", fmt.Sprintf("field %s is not a timestamp", f)}
		}
		loc := p.loc
		if loc == nil {
			loc = time.UTC
		}
		t, err := timestamp.Parse(s, loc, timestamp.WithReference(now))
		if err != nil {
			return m, &mappingError{"invalid_timestamp", fmt.Sprintf("field %s is not a recognised timestamp", f)}
		}
		m.observedAt = t
		break
	}

	byName := map[string][]entity{}
	seen := map[string]bool{}
	add := func(o ObservableOf, e entity) {
		e.name = o.Name
		if e.key == "" {
			return
		}
		byName[o.Name] = append(byName[o.Name], e)
		if !seen[e.key] {
			seen[e.key] = true
			m.entities = append(m.entities, e)
		}
		if e.kind == string(observable.KindURL) && !e.personal {
			host, err := urlHost(e.value)
			if err == nil && host.Key() != "" && !seen[host.Key()] {
				he := entity{name: o.Name + ".host", key: host.Key(), kind: string(host.Kind), value: host.Value, rank: e.rank}
				seen[he.key] = true
				m.entities = append(m.entities, he)
				m.relations = append(m.relations, newRelation(e, "CONTAINS", he, nil, e.rank))
			}
		}
	}
	for _, o := range p.Observables {
		if len(o.Hashes) > 0 {
			obs, fields, ok, err := hashedObservable(o, rec)
			if err != nil {
				if o.OnInvalid == "skip" {
					continue
				}
				return m, &mappingError{"invalid_observable", fmt.Sprintf("hashes of %s are not valid", o.Name)}
			}
			if !ok {
				continue
			}
			rule := strictest(g, p.Name, fields)
			e, keep, err := treat(g, rule, obs)
			if err != nil {
				return m, policyError
			}
			if keep {
				add(o, e)
			}
			continue
		}
		raws, field := observableValues(o, rec)
		var rule policy.Rule
		if len(raws) > 0 {
			rule = g.Rule(p.Name, field)
			if rule.Action == policy.ActionDrop {
				continue
			}
		}
		for _, raw := range raws {
			if raw == "" || raw == "-" {
				continue
			}
			obs, err := canonical(o.Kind, raw)
			if err != nil {
				if o.OnInvalid == "skip" {
					continue
				}
				return m, &mappingError{"invalid_observable", fmt.Sprintf("field %s is not a valid %s", field, o.Kind)}
			}
			e, keep, err := treat(g, rule, obs)
			if err != nil {
				return m, policyError
			}
			if keep {
				add(o, e)
			}
		}
	}
	for _, r := range p.Relations {
		froms, tos := byName[r.From], byName[r.To]
		if len(froms) == 0 || len(tos) == 0 {
			continue
		}
		attrs := relationAttributes(p, g, r, rec)
		for _, from := range froms {
			for _, to := range tos {
				if from.key == to.key {
					continue
				}
				rel, err := sealRelation(g, from, r.Type, to, attrs)
				if err != nil {
					return m, policyError
				}
				m.relations = append(m.relations, rel)
			}
		}
	}
	sort.SliceStable(m.relations, func(i, j int) bool { return m.relations[i].key < m.relations[j].key })
	return m, nil
}

// treat applies a rule to a canonical observable. keep is false when the
// policy drops it. Kept and scrubbed values keep their plain keys (they are
// declared non-personal, or no longer hold what the detectors find); every
// other action derives the key from the value's pseudonym in the domain of
// the observable's kind, so equal values join whatever the field, and seals
// the value to the entity key and EntityValueField.
func treat(g Guard, rule policy.Rule, obs observable.Observable) (e entity, keep bool, err error) {
	e = entity{key: obs.Key(), kind: string(obs.Kind), value: obs.Value, rank: rule.LevelRank}
	switch rule.Action {
	case policy.ActionDrop:
		return entity{}, false, nil
	case policy.ActionKeep:
		return e, true, nil
	case policy.ActionScrub:
		s, _, err := g.Apply(rule, e.key, EntityValueField, obs.Value)
		if err != nil {
			return entity{}, false, err
		}
		if s == obs.Value {
			return e, true, nil
		}
		if c, err := canonical(string(obs.Kind), s); err == nil && c.Key() != "" {
			e.key, e.value = c.Key(), c.Value
			return e, true, nil
		}
		// Scrubbed text that is no longer a valid value of its kind is
		// treated as personal.
	}
	e.personal = true
	e.key = observable.PersonalKey(obs.Kind, g.Pseudonym(string(obs.Kind), obs.Value))
	if rule.Action == policy.ActionScrub {
		e.value = g.Pseudonym(string(obs.Kind), obs.Value)
		return e, true, nil
	}
	v, drop, err := g.Apply(rule, e.key, EntityValueField, obs.Value)
	if err != nil || drop {
		return entity{}, false, err
	}
	e.value = v
	return e, true, nil
}

// strictest returns the rule of the highest level among fields (a dropped
// field counts only when every field is dropped).
func strictest(g Guard, profile string, fields []string) policy.Rule {
	var best policy.Rule
	found := false
	for _, f := range fields {
		r := g.Rule(profile, f)
		if !found || (best.Action == policy.ActionDrop && r.Action != policy.ActionDrop) ||
			(r.Action != policy.ActionDrop && r.LevelRank > best.LevelRank) {
			best, found = r, true
		}
	}
	return best
}

// rawAttribute is a relation attribute before its field's rule is applied.
type rawAttribute struct {
	name, value string
	rule        policy.Rule
}

// relationAttributes reads a relation's attributes: for each, the first
// field present; a field the policy drops gives no attribute.
func relationAttributes(p *Profile, g Guard, r RelationOf, rec map[string]any) []rawAttribute {
	var out []rawAttribute
	for name, fields := range r.Attributes {
		for _, f := range fields {
			v, ok := lookup(rec, f)
			if !ok || v == nil {
				continue
			}
			rule := g.Rule(p.Name, f)
			if rule.Action == policy.ActionDrop {
				break
			}
			if s, ok := attribute(name, v); ok {
				out = append(out, rawAttribute{name: name, value: s, rule: rule})
			}
			break
		}
	}
	return out
}

// sealRelation builds a relation and applies its attributes' rules, bound
// to the relation key.
func sealRelation(g Guard, from entity, typ string, to entity, raw []rawAttribute) (relation, error) {
	rank := max(from.rank, to.rank)
	r := newRelation(from, typ, to, nil, rank)
	for _, a := range raw {
		sealed := a.rule.Action == policy.ActionEncrypt || a.rule.Action == policy.ActionTokenise
		in := a.value
		if sealed { // cutting plaintext that is sealed anyway leaks nothing
			in = cutText(in, maxTextAttribute)
		}
		v, drop, err := g.Apply(a.rule, r.key, AttributeField(a.name), in)
		if err != nil {
			return relation{}, err
		}
		if drop {
			continue
		}
		if !sealed {
			v = cutText(v, maxTextAttribute)
		}
		r.attrs = append(r.attrs, events.Attribute{Name: a.name, Value: v})
		r.rank = max(r.rank, a.rule.LevelRank)
	}
	events.SortAttributes(r.attrs)
	return r, nil
}

// observableValues returns the raw values of an observable in a record and
// the field they came from.
func observableValues(o ObservableOf, rec map[string]any) ([]string, string) {
	if o.Template != "" {
		missing := false
		v := templateField.ReplaceAllStringFunc(o.Template, func(ref string) string {
			f := ref[1 : len(ref)-1]
			x, ok := lookup(rec, f)
			s, isScalar := scalar(x)
			if !ok || !isScalar || s == "" || s == "-" {
				missing = true
			}
			return s
		})
		if missing {
			return nil, o.Name
		}
		return []string{v}, o.Name
	}
	for _, f := range o.Fields {
		if v, ok := lookup(rec, f); ok && v != nil {
			return values(v, o.Kind == "ip" || o.Kind == "ipv4-addr" || o.Kind == "ipv6-addr" || o.Kind == "domain-name"), f
		}
	}
	return nil, ""
}

// hashedObservable builds one file or certificate from the hash fields a
// record holds, and names the fields used; ok is false when it holds none.
func hashedObservable(o ObservableOf, rec map[string]any) (observable.Observable, []string, bool, error) {
	hashes := map[string]string{}
	var used []string
	for alg, fields := range o.Hashes {
		for _, f := range fields {
			if v, ok := lookup(rec, f); ok {
				if s, ok := scalar(v); ok && s != "" && s != "-" {
					hashes[alg] = strings.ReplaceAll(s, ":", "")
					used = append(used, f)
					break
				}
			}
		}
	}
	if len(hashes) == 0 {
		return observable.Observable{}, nil, false, nil
	}
	sort.Strings(used)
	var (
		obs observable.Observable
		err error
	)
	if o.Kind == string(observable.KindX509Certificate) {
		obs, err = observable.NewX509Certificate(hashes, "")
	} else {
		obs, err = observable.NewFile(hashes, "")
	}
	return obs, used, err == nil, err
}

func newRelation(from entity, typ string, to entity, attrs []events.Attribute, rank int) relation {
	return relation{key: observable.RelationKey(from.key, typ, to.key), typ: typ, from: from, to: to, attrs: attrs, rank: rank}
}

func canonical(kind, raw string) (observable.Observable, error) { return observable.Parse(kind, raw) }

// urlHost returns the observable for the host of a canonical URL.
func urlHost(canonicalURL string) (observable.Observable, error) {
	u, err := url.Parse(canonicalURL)
	if err != nil {
		return observable.Observable{}, err
	}
	h := u.Hostname()
	if o, err := observable.ParseIP(h); err == nil {
		return o, nil
	}
	return observable.Canonicalize(observable.KindDomainName, h)
}

// values flattens a field to the strings it holds: arrays give several, and
// so does a comma-separated list when split is set (address and name lists).
func values(v any, split bool) []string {
	switch x := v.(type) {
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := scalar(e); ok {
				out = append(out, s)
			}
		}
		return out
	case string:
		if split && strings.Contains(x, ",") {
			parts := strings.Split(x, ",")
			for i := range parts {
				parts[i] = strings.TrimSpace(parts[i])
			}
			return parts
		}
	}
	if s, ok := scalar(v); ok {
		return []string{s}
	}
	return nil
}

func scalar(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return strings.TrimSpace(x), true
	case json.Number:
		return x.String(), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

// attribute canonicalises relation attributes Heimdall knows, and keeps
// others as trimmed strings.
func attribute(name string, v any) (string, bool) {
	s, ok := scalar(v)
	if !ok || s == "" || s == "-" {
		return "", false
	}
	switch name {
	case "dst_port", "src_port", "port":
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 65535 {
			return "", false
		}
		return strconv.Itoa(n), true
	case "proto":
		return strings.ToLower(s), true
	}
	if textAttributes[name] {
		return s, true // bounded by the line limit; cut after the policy
	}
	if len(s) > 256 {
		return "", false
	}
	return s, true
}

// textAttributes are free-text attributes (messages, paths, certificate
// names): kept whole until the PII policy has scrubbed them, then cut to
// maxTextAttribute bytes. Cutting first could split a personal value so
// that the detectors no longer see it.
var textAttributes = map[string]bool{"msg": true, "path": true, "subject": true, "issuer": true}

// maxTextAttribute bounds a free-text attribute after the policy.
const maxTextAttribute = 2048

// cutText cuts s to at most n bytes at a rune boundary.
func cutText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
