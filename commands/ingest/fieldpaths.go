package ingest

import "sort"

// FieldPaths returns the sorted, distinct field paths the PII policy is
// asked about for records mapped by p (policy.Rule(p.Name, path)):
//
//   - an observable read from fields: each field name as written;
//   - an observable built from a template: the observable's name;
//   - a hashed observable: each hash field name;
//   - a relation attribute: each source field listed for it.
//
// Time fields are not among them: they only set the observation time and are
// never stored as values. (A time field that is also read as a value is
// listed for that use.)
func (p *Profile) FieldPaths() []string {
	seen := map[string]bool{}
	add := func(fields ...string) {
		for _, f := range fields {
			if f != "" {
				seen[f] = true
			}
		}
	}
	// Mirrors mapRecord: hashes, then template, then fields.
	for _, o := range p.Observables {
		switch {
		case len(o.Hashes) > 0:
			for _, fields := range o.Hashes {
				add(fields...)
			}
		case o.Template != "":
			add(o.Name)
		default:
			add(o.Fields...)
		}
	}
	for _, r := range p.Relations {
		for _, fields := range r.Attributes {
			add(fields...)
		}
	}
	out := make([]string, 0, len(seen))
	for f := range seen {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}
