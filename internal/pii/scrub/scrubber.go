package scrub

import (
	"errors"
	"net/url"
	"slices"
	"strings"
)

// DefaultKinds are the detectors enabled when Config.Kinds is nil.
var DefaultKinds = []Kind{KindEmail, KindPhone, KindCard, KindIBAN, KindUserName}

// ErrUnknownKind is returned by New for detector kinds that do not exist.
var ErrUnknownKind = errors.New("scrub: unknown detector kind")

// ErrNationalIDKind is returned by New when KindNationalID is listed in
// Config.Kinds; national ids are enabled per scheme via Config.NationalIDs.
var ErrNationalIDKind = errors.New("scrub: enable national ids via Config.NationalIDs")

// Config selects the detectors a Scrubber runs.
type Config struct {
	// Kinds lists the generic detectors to enable. Nil means DefaultKinds;
	// an empty non-nil slice disables all generic detectors.
	Kinds []Kind
	// NationalIDs lists national-id schemes to enable by name (see
	// NationalIDSchemes). Unknown names are rejected.
	NationalIDs []string
	// CardAnyIIN disables the known-IIN prefix requirement for card numbers
	// (Luhn and grouping rules still apply). Off by default because it lets
	// Luhn-valid counters through.
	CardAnyIIN bool
}

// Scrubber finds and replaces personal data. It is immutable after New and
// safe for concurrent use.
type Scrubber struct {
	finders []func(string) []Span
}

// New builds a Scrubber from cfg.
func New(cfg Config) (*Scrubber, error) {
	kinds := cfg.Kinds
	if kinds == nil {
		kinds = DefaultKinds
	}
	sc := &Scrubber{}
	seen := map[Kind]bool{}
	for _, k := range kinds {
		if seen[k] {
			continue
		}
		seen[k] = true
		switch k {
		case KindEmail:
			sc.finders = append(sc.finders, FindEmails)
		case KindPhone:
			sc.finders = append(sc.finders, FindPhones)
		case KindCard:
			anyIIN := cfg.CardAnyIIN
			sc.finders = append(sc.finders, func(s string) []Span { return FindCards(s, anyIIN) })
		case KindIBAN:
			sc.finders = append(sc.finders, FindIBANs)
		case KindUserName:
			sc.finders = append(sc.finders, FindUserPaths)
		case KindNationalID:
			return nil, ErrNationalIDKind
		default:
			return nil, ErrUnknownKind
		}
	}
	seenID := map[string]bool{}
	for _, name := range cfg.NationalIDs {
		f, ok := nationalIDFinders[name]
		if !ok {
			return nil, ErrUnknownScheme
		}
		if !seenID[name] {
			seenID[name] = true
			sc.finders = append(sc.finders, f)
		}
	}
	return sc, nil
}

// Find returns the personal-data spans in s, sorted by Start and
// non-overlapping. Where candidates overlap, the longest wins; on equal
// length the more specific kind wins (card > iban > national id > email >
// user > phone), then the earlier start.
func (sc *Scrubber) Find(s string) []Span {
	if sc == nil || s == "" {
		return nil
	}
	var all []Span
	for _, f := range sc.finders {
		all = append(all, f(s)...)
	}
	return resolve(all)
}

func better(a, b Span) bool {
	if a.Len() != b.Len() {
		return a.Len() > b.Len()
	}
	if sa, sb := specificity(a.Kind), specificity(b.Kind); sa != sb {
		return sa > sb
	}
	if a.Start != b.Start {
		return a.Start < b.Start
	}
	return a.Scheme < b.Scheme
}

// resolve removes overlaps. Candidates are clustered into maximal runs of
// transitively overlapping spans; within a cluster the best spans are chosen
// greedily.
func resolve(all []Span) []Span {
	all = slices.DeleteFunc(all, func(sp Span) bool { return sp.End <= sp.Start })
	if len(all) <= 1 {
		return all
	}
	slices.SortFunc(all, func(a, b Span) int {
		if a.Start != b.Start {
			return a.Start - b.Start
		}
		return b.End - a.End
	})
	out := make([]Span, 0, len(all))
	for i := 0; i < len(all); {
		j, end := i+1, all[i].End
		for j < len(all) && all[j].Start < end {
			end = max(end, all[j].End)
			j++
		}
		cluster := all[i:j]
		if len(cluster) == 1 {
			out = append(out, cluster[0])
		} else {
			cand := slices.Clone(cluster)
			slices.SortFunc(cand, func(a, b Span) int {
				if better(a, b) {
					return -1
				}
				if better(b, a) {
					return 1
				}
				return 0
			})
			var picked []Span
			for _, c := range cand {
				ok := true
				for _, p := range picked {
					if c.Start < p.End && p.Start < c.End {
						ok = false
						break
					}
				}
				if ok {
					picked = append(picked, c)
				}
			}
			slices.SortFunc(picked, func(a, b Span) int { return a.Start - b.Start })
			out = append(out, picked...)
		}
		i = j
	}
	return out
}

// DefaultReplacement returns a placeholder naming the span's kind, e.g.
// "[email]", "[card]", "[phone]", "[iban]", "[user]" or, for national
// ids, "[national_id:us_ssn]".
func DefaultReplacement(sp Span, _ string) string {
	if sp.Kind == KindNationalID && sp.Scheme != "" {
		return "[" + string(sp.Kind) + ":" + sp.Scheme + "]"
	}
	return "[" + string(sp.Kind) + "]"
}

// Replace returns s with every span found by Find replaced by fn(span,
// matched text). A nil fn means DefaultReplacement. If nothing is found, s
// is returned unchanged.
func (sc *Scrubber) Replace(s string, fn func(Span, string) string) string {
	return ReplaceSpans(s, sc.Find(s), fn)
}

// ReplaceSpans rebuilds s with the given sorted, non-overlapping spans
// replaced by fn (nil means DefaultReplacement). Spans out of bounds or out
// of order are skipped.
func ReplaceSpans(s string, spans []Span, fn func(Span, string) string) string {
	if len(spans) == 0 {
		return s
	}
	if fn == nil {
		fn = DefaultReplacement
	}
	var b strings.Builder
	b.Grow(len(s))
	prev := 0
	for _, sp := range spans {
		if sp.Start < prev || sp.End > len(s) || sp.End < sp.Start {
			continue
		}
		b.WriteString(s[prev:sp.Start])
		b.WriteString(fn(sp, s[sp.Start:sp.End]))
		prev = sp.End
	}
	b.WriteString(s[prev:])
	return b.String()
}

// ScrubURLQuery scrubs a URL query string ("a=1&b=2", optionally with a
// leading "?"). Each parameter value (and each bare parameter without "=")
// is percent-decoded ("+" as space; malformed escapes are kept literally),
// scanned and, if anything was replaced, re-encoded with url.QueryEscape
// (a malformed "%zz" then becomes "%25zz"). Parameters without findings keep
// their original bytes. If the decoded value has no findings the raw value
// is scanned too (catching e.g. double-encoded paths), with replacements
// query-escaped. Keys are left unchanged. fn == nil means
// DefaultReplacement.
func (sc *Scrubber) ScrubURLQuery(raw string, fn func(Span, string) string) string {
	if raw == "" {
		return raw
	}
	if fn == nil {
		fn = DefaultReplacement
	}
	var b strings.Builder
	b.Grow(len(raw))
	rest := raw
	if rest[0] == '?' {
		b.WriteByte('?')
		rest = rest[1:]
	}
	first := true
	for {
		part, tail, more := strings.Cut(rest, "&")
		if !first {
			b.WriteByte('&')
		}
		first = false
		key, val, hasEq := strings.Cut(part, "=")
		if hasEq {
			b.WriteString(key)
			b.WriteByte('=')
			b.WriteString(sc.scrubQueryValue(val, fn))
		} else {
			b.WriteString(sc.scrubQueryValue(part, fn))
		}
		if !more {
			break
		}
		rest = tail
	}
	return b.String()
}

func (sc *Scrubber) scrubQueryValue(v string, fn func(Span, string) string) string {
	if v == "" {
		return v
	}
	dec := lenientUnescape(v)
	if spans := sc.Find(dec); len(spans) > 0 {
		return url.QueryEscape(ReplaceSpans(dec, spans, fn))
	}
	return ReplaceSpans(v, sc.Find(v), func(sp Span, m string) string {
		return url.QueryEscape(fn(sp, m))
	})
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// lenientUnescape decodes application/x-www-form-urlencoded text, keeping
// malformed percent escapes literally instead of failing.
func lenientUnescape(s string) string {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '+':
			b = append(b, ' ')
		case '%':
			if i+2 < len(s) {
				h, ok1 := unhex(s[i+1])
				l, ok2 := unhex(s[i+2])
				if ok1 && ok2 {
					b = append(b, h<<4|l)
					i += 2
					continue
				}
			}
			b = append(b, c)
		default:
			b = append(b, c)
		}
	}
	return string(b)
}
