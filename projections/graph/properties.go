package graph

import (
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/heimdallhub/heimdall/events"
)

// TimeFormat is how times are written into vertex and edge properties:
// RFC 3339 in UTC with fixed microsecond precision, so the strings sort in
// time order inside Cypher queries.
const TimeFormat = "2006-01-02T15:04:05.000000Z07:00"

// FormatTime formats t with TimeFormat in UTC.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

// VertexProperties returns the JSON properties (which AGE reads as agtype) of
// the vertex of s: key, kind, value, first_seen, last_seen, sources and
// classification; the version vector and attributes stay in the state
// tables. A vertex known only as a relation endpoint has no times and no
// classification; readers treat a missing classification as the highest.
func VertexProperties(s EntityState) []byte {
	b := make([]byte, 0, 160+len(s.Key)+len(s.Value))
	b = append(b, `{"key":`...)
	b = AppendJSONString(b, s.Key)
	b = append(b, `,"kind":`...)
	b = AppendJSONString(b, s.Kind)
	b = append(b, `,"value":`...)
	b = AppendJSONString(b, s.Value)
	if s.Observed {
		b = append(b, `,"first_seen":"`...)
		b = s.FirstSeen.UTC().AppendFormat(b, TimeFormat)
		b = append(b, `","last_seen":"`...)
		b = s.LastSeen.UTC().AppendFormat(b, TimeFormat)
		b = append(b, '"')
	}
	b = append(b, `,"sources":`...)
	b = AppendJSONStrings(b, s.Sources)
	if s.Observed {
		b = append(b, `,"classification":`...)
		b = AppendJSONString(b, s.Classification)
	}
	return append(b, '}')
}

// EdgeProperties returns the JSON properties of the edge of r: key,
// first_seen, last_seen, sources and classification (the edge label is the
// relation type; its endpoints are the edge's start and end vertices).
func EdgeProperties(r RelationState) []byte {
	b := make([]byte, 0, 160+len(r.Key))
	b = append(b, `{"key":`...)
	b = AppendJSONString(b, r.Key)
	b = append(b, `,"first_seen":"`...)
	b = r.FirstSeen.UTC().AppendFormat(b, TimeFormat)
	b = append(b, `","last_seen":"`...)
	b = r.LastSeen.UTC().AppendFormat(b, TimeFormat)
	b = append(b, `","sources":`...)
	b = AppendJSONStrings(b, r.Sources)
	b = append(b, `,"classification":`...)
	b = AppendJSONString(b, r.Classification)
	return append(b, '}')
}

// AppendJSONString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD.
func AppendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, `\u00`...)
				b = append(b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// AppendJSONStrings appends ss as a JSON array of strings ([] for none).
func AppendJSONStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendJSONString(b, s)
	}
	return append(b, ']')
}

// AppendJSONVector appends v as a JSON object of peer to counter, peers
// sorted.
func AppendJSONVector(b []byte, v events.VersionVector) []byte {
	peers := make([]string, 0, len(v))
	for p := range v {
		peers = append(peers, p)
	}
	slices.Sort(peers)
	b = append(b, '{')
	for i, p := range peers {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendJSONString(b, p)
		b = append(b, ':')
		b = strconv.AppendInt(b, v[p], 10)
	}
	return append(b, '}')
}

// AppendJSONAttributes appends a as a JSON object of name to the array of
// values, names sorted.
func AppendJSONAttributes(b []byte, a Attributes) []byte {
	names := make([]string, 0, len(a))
	for n := range a {
		names = append(names, n)
	}
	slices.Sort(names)
	b = append(b, '{')
	for i, n := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendJSONString(b, n)
		b = append(b, ':')
		b = AppendJSONStrings(b, a[n])
	}
	return append(b, '}')
}
