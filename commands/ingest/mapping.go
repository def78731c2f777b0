package ingest

import (
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/internal/observable"
	"github.com/heimdallhub/heimdall/internal/observable/timestamp"
)

// mappingError rejects a record; reason never quotes input values.
type mappingError struct{ code, reason string }

func (e *mappingError) Error() string { return e.code + ": " + e.reason }

type entity struct {
	name  string // the profile's observable name
	key   string
	kind  string
	value string
}

type relation struct {
	key   string
	typ   string
	from  entity
	to    entity
	attrs []events.Attribute
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

// mapRecord applies a profile to one record.
func mapRecord(p *Profile, rec map[string]any, now time.Time) (mapped, error) {
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
	add := func(o ObservableOf, obs observable.Observable) {
		e := entity{name: o.Name, key: obs.Key(), kind: string(obs.Kind), value: obs.Value}
		if e.key == "" {
			return
		}
		byName[o.Name] = append(byName[o.Name], e)
		if !seen[e.key] {
			seen[e.key] = true
			m.entities = append(m.entities, e)
		}
		if e.kind == string(observable.KindURL) {
			host, err := urlHost(obs.Value)
			if err == nil && host.Key() != "" && !seen[host.Key()] {
				he := entity{name: o.Name + ".host", key: host.Key(), kind: string(host.Kind), value: host.Value}
				seen[he.key] = true
				m.entities = append(m.entities, he)
				m.relations = append(m.relations, newRelation(e, "CONTAINS", he, nil))
			}
		}
	}
	for _, o := range p.Observables {
		raws, field := observableValues(o, rec)
		if len(o.Hashes) > 0 {
			obs, ok, err := hashedObservable(o, rec)
			if err != nil {
				if o.OnInvalid == "skip" {
					continue
				}
				return m, &mappingError{"invalid_observable", fmt.Sprintf("hashes of %s are not valid", o.Name)}
			}
			if ok {
				add(o, obs)
			}
			continue
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
			add(o, obs)
		}
	}
	for _, r := range p.Relations {
		var attrs []events.Attribute
		for name, fields := range r.Attributes {
			for _, f := range fields {
				if v, ok := lookup(rec, f); ok && v != nil {
					if s, ok := attribute(name, v); ok {
						attrs = append(attrs, events.Attribute{Name: name, Value: s})
					}
					break
				}
			}
		}
		events.SortAttributes(attrs)
		for _, from := range byName[r.From] {
			for _, to := range byName[r.To] {
				if from.key == to.key {
					continue
				}
				m.relations = append(m.relations, newRelation(from, r.Type, to, attrs))
			}
		}
	}
	sort.SliceStable(m.relations, func(i, j int) bool { return m.relations[i].key < m.relations[j].key })
	return m, nil
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
// record holds; ok is false when it holds none.
func hashedObservable(o ObservableOf, rec map[string]any) (observable.Observable, bool, error) {
	hashes := map[string]string{}
	for alg, fields := range o.Hashes {
		for _, f := range fields {
			if v, ok := lookup(rec, f); ok {
				if s, ok := scalar(v); ok && s != "" && s != "-" {
					hashes[alg] = strings.ReplaceAll(s, ":", "")
					break
				}
			}
		}
	}
	if len(hashes) == 0 {
		return observable.Observable{}, false, nil
	}
	var (
		obs observable.Observable
		err error
	)
	if o.Kind == string(observable.KindX509Certificate) {
		obs, err = observable.NewX509Certificate(hashes, "")
	} else {
		obs, err = observable.NewFile(hashes, "")
	}
	return obs, err == nil, err
}

func newRelation(from entity, typ string, to entity, attrs []events.Attribute) relation {
	return relation{key: observable.RelationKey(from.key, typ, to.key), typ: typ, from: from, to: to, attrs: attrs}
}

func canonical(kind, raw string) (observable.Observable, error) {
	if kind == "ip" {
		return observable.ParseIP(raw)
	}
	return observable.Canonicalize(observable.Kind(kind), raw)
}

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
	if len(s) > 256 {
		return "", false
	}
	return s, true
}
