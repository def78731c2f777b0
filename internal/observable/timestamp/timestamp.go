package timestamp

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sentinel errors. Returned errors wrap one of these with context.
var (
	// ErrEmpty reports an empty input (or a syslog NILVALUE "-").
	ErrEmpty = errors.New("empty input")
	// ErrSyntax reports input in none of the recognised notations.
	ErrSyntax = errors.New("unrecognised timestamp notation")
	// ErrRange reports a field out of range (month 13, 31 February, second
	// 60, an epoch too large) or a weekday that does not match the date.
	ErrRange = errors.New("timestamp field out of range")
	// ErrZone reports an unknown or ambiguous zone token.
	ErrZone = errors.New("unknown or ambiguous time zone")
	// ErrNoZone reports a timestamp without zone parsed with a nil location.
	ErrNoZone = errors.New("timestamp has no zone and no source location was given")
	// ErrNoYear reports a timestamp without year parsed without a reference
	// time.
	ErrNoYear = errors.New("timestamp has no year and no reference time was given")
)

// maxInput bounds the input length.
const maxInput = 256

// Option configures Parse.
type Option func(*options)

type options struct {
	reference    time.Time
	hasReference bool
}

// WithReference sets the reference time used to infer the year of
// timestamps that have none (see the package documentation).
func WithReference(t time.Time) Option {
	return func(o *options) { o.reference, o.hasReference = t, true }
}

// Parse parses s and returns the instant in UTC. loc is the source's time
// zone, used when s carries none. See the package documentation.
func Parse(s string, loc *time.Location, opts ...Option) (time.Time, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	t, err := parse(s, loc, &o)
	if err != nil {
		return time.Time{}, fmt.Errorf("timestamp: parse: %w", err)
	}
	return t.UTC(), nil
}

func parse(s string, loc *time.Location, o *options) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "-" {
		return time.Time{}, ErrEmpty
	}
	if len(s) > maxInput {
		return time.Time{}, ErrSyntax
	}
	switch {
	case isEpoch(s):
		return parseEpoch(s)
	case len(s) >= 5 && isDigits(s[:4]) && s[4] == '-':
		return parseISO(s, loc)
	case s[0] >= 'A' && s[0] <= 'Z' || s[0] >= 'a' && s[0] <= 'z' || s[0] >= '0' && s[0] <= '9':
		return parseWords(s, loc, o)
	}
	return time.Time{}, ErrSyntax
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// atoi parses a short run of decimal digits (callers bound the length).
func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// ---- epoch ----

func isEpoch(s string) bool {
	intPart, frac, hasDot := strings.Cut(s, ".")
	return isDigits(intPart) && (!hasDot || isDigits(frac))
}

// Unit thresholds on the integer part; see the package documentation.
const (
	secondsBelow = 1e11
	millisBelow  = 1e14
	microsBelow  = 1e17
)

func parseEpoch(s string) (time.Time, error) {
	intPart, frac, _ := strings.Cut(s, ".")
	intPart = strings.TrimLeft(intPart, "0")
	if len(intPart) > 19 {
		return time.Time{}, ErrRange
	}
	var v uint64
	for i := 0; i < len(intPart); i++ {
		v = v*10 + uint64(intPart[i]-'0')
	}
	if v > 1<<63-1 {
		return time.Time{}, ErrRange
	}
	// perUnit: nanoseconds per unit; fracDigits: fraction digits that
	// still resolve to whole nanoseconds in that unit.
	var perUnit uint64
	var fracDigits int
	switch {
	case v < secondsBelow:
		perUnit, fracDigits = 1e9, 9
	case v < millisBelow:
		perUnit, fracDigits = 1e6, 6
	case v < microsBelow:
		perUnit, fracDigits = 1e3, 3
	default:
		perUnit, fracDigits = 1, 0
	}
	// Fraction in nanoseconds, truncated.
	var fracNs uint64
	for i := range fracDigits {
		fracNs *= 10
		if i < len(frac) {
			fracNs += uint64(frac[i] - '0')
		}
	}
	unitsPerSec := 1e9 / perUnit
	sec := v / unitsPerSec
	nsec := (v%unitsPerSec)*perUnit + fracNs
	return time.Unix(int64(sec), int64(nsec)), nil
}

// ---- ISO 8601 / RFC 3339 ----

func parseISO(s string, loc *time.Location) (time.Time, error) {
	// YYYY-MM-DD
	if len(s) < 10 || !isDigits(s[5:7]) || s[7] != '-' || !isDigits(s[8:10]) {
		return time.Time{}, ErrSyntax
	}
	year, month, day := atoi(s[0:4]), atoi(s[5:7]), atoi(s[8:10])
	rest := s[10:]
	if rest == "" || (rest[0] != 'T' && rest[0] != 't' && rest[0] != ' ') {
		return time.Time{}, ErrSyntax
	}
	rest = rest[1:]
	h, m, sec, ns, rest, ok := parseClock(rest, true)
	if !ok {
		return time.Time{}, ErrSyntax
	}
	var zone *time.Location
	switch {
	case rest == "":
	case rest == "Z" || rest == "z":
		zone = time.UTC
	case rest[0] == '+' || rest[0] == '-':
		z, err := numericZone(rest)
		if err != nil {
			return time.Time{}, err
		}
		zone = z
	case rest[0] == ' ':
		z, err := zoneToken(strings.TrimLeft(rest, " "))
		if err != nil {
			return time.Time{}, err
		}
		zone = z
	default:
		return time.Time{}, ErrSyntax
	}
	if zone == nil {
		if loc == nil {
			return time.Time{}, ErrNoZone
		}
		zone = loc
	}
	return date(year, month, day, h, m, sec, ns, zone)
}

// parseClock parses hh:mm[:ss[(.|,)fraction]] at the start of s and returns
// the remainder. Seconds are required if needSeconds.
func parseClock(s string, needSeconds bool) (h, m, sec, ns int, rest string, ok bool) {
	if len(s) < 5 || !isDigits(s[0:2]) || s[2] != ':' || !isDigits(s[3:5]) {
		return 0, 0, 0, 0, "", false
	}
	h, m = atoi(s[0:2]), atoi(s[3:5])
	s = s[5:]
	if len(s) >= 3 && s[0] == ':' && isDigits(s[1:3]) {
		sec = atoi(s[1:3])
		s = s[3:]
		if len(s) >= 2 && (s[0] == '.' || s[0] == ',') && s[1] >= '0' && s[1] <= '9' {
			i := 1
			for i < len(s) && s[i] >= '0' && s[i] <= '9' {
				if i <= 9 {
					ns = ns*10 + int(s[i]-'0')
				}
				i++
			}
			for d := i - 1; d < 9; d++ {
				ns *= 10
			}
			s = s[i:]
		}
	} else if needSeconds {
		return 0, 0, 0, 0, "", false
	}
	return h, m, sec, ns, s, true
}

// date builds a time, checking every field is in range (time.Date would
// silently normalise "Feb 31" to March).
func date(year, month, day, h, m, sec, ns int, loc *time.Location) (time.Time, error) {
	if month < 1 || month > 12 || day < 1 || h > 23 || m > 59 || sec > 59 {
		return time.Time{}, ErrRange
	}
	t := time.Date(year, time.Month(month), day, h, m, sec, ns, loc)
	if t.Day() != day || t.Month() != time.Month(month) {
		return time.Time{}, ErrRange
	}
	return t, nil
}

// ---- zones ----

// namedZones are the zone abbreviations with one unambiguous meaning
// (RFC 5322 section 4.3 plus UTC and Z), in seconds east of UTC.
var namedZones = map[string]int{
	"Z": 0, "UT": 0, "UTC": 0, "GMT": 0,
	"EST": -5 * 3600, "EDT": -4 * 3600,
	"CST": -6 * 3600, "CDT": -5 * 3600,
	"MST": -7 * 3600, "MDT": -6 * 3600,
	"PST": -8 * 3600, "PDT": -7 * 3600,
}

// zoneToken parses a whole zone token.
func zoneToken(tok string) (*time.Location, error) {
	if tok == "" {
		return nil, ErrSyntax
	}
	if tok[0] == '+' || tok[0] == '-' {
		return numericZone(tok)
	}
	up := strings.ToUpper(tok)
	if off, ok := namedZones[up]; ok {
		if off == 0 {
			return time.UTC, nil
		}
		return time.FixedZone(up, off), nil
	}
	for _, p := range []string{"GMT", "UTC"} {
		if strings.HasPrefix(up, p) && len(up) > len(p) && (up[len(p)] == '+' || up[len(p)] == '-') {
			return numericZone(up[len(p):])
		}
	}
	return nil, ErrZone
}

// numericZone parses ±hh, ±hhmm or ±hh:mm (the whole string).
func numericZone(s string) (*time.Location, error) {
	if len(s) < 3 || (s[0] != '+' && s[0] != '-') || !isDigits(s[1:3]) {
		return nil, ErrZone
	}
	h, m := atoi(s[1:3]), 0
	switch rest := s[3:]; {
	case rest == "":
	case len(rest) == 2 && isDigits(rest):
		m = atoi(rest)
	case len(rest) == 3 && rest[0] == ':' && isDigits(rest[1:]):
		m = atoi(rest[1:])
	default:
		return nil, ErrZone
	}
	if h > 23 || m > 59 {
		return nil, ErrRange
	}
	off := h*3600 + m*60
	if s[0] == '-' {
		off = -off
	}
	if off == 0 {
		return time.UTC, nil
	}
	return time.FixedZone("", off), nil
}

// ---- word forms (RFC 1123/5322, CEF, syslog, ctime) ----

var months = map[string]time.Month{
	"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
	"jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
	"january": 1, "february": 2, "march": 3, "april": 4, "june": 6,
	"july": 7, "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
	"sept": 9,
}

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
	"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday, "wednesday": time.Wednesday,
	"thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday,
}

// fields holds what the word-form parser found.
type fields struct {
	weekday    time.Weekday
	hasWeekday bool
	month      time.Month
	day        int
	year       int
	hasYear    bool
	h, m, s    int
	ns         int
	zone       *time.Location
}

func parseWords(s string, loc *time.Location, o *options) (time.Time, error) {
	toks := strings.Fields(s)
	// RFC 5322 date-times often end in a comment naming the zone:
	// "+0200 (CEST)". The numeric zone before it is what counts.
	if n := len(toks); n > 1 && strings.HasPrefix(toks[n-1], "(") && strings.HasSuffix(toks[n-1], ")") {
		toks = toks[:n-1]
	}
	var f fields
	i := 0
	// Optional weekday, with or without a comma.
	if i < len(toks) {
		w := strings.TrimSuffix(toks[i], ",")
		if wd, ok := weekdays[strings.ToLower(w)]; ok {
			f.weekday, f.hasWeekday = wd, true
			i++
		} else if strings.HasSuffix(toks[i], ",") {
			return time.Time{}, ErrSyntax
		}
	}
	if i+2 >= len(toks) {
		return time.Time{}, ErrSyntax
	}
	if isDigits(toks[i]) {
		// RFC 5322: day month year time [zone]
		if len(toks[i]) > 2 || !isDigits(toks[i+2]) || len(toks[i+2]) != 4 {
			return time.Time{}, ErrSyntax
		}
		mon, ok := months[strings.ToLower(toks[i+1])]
		if !ok {
			return time.Time{}, ErrSyntax
		}
		f.day, f.month, f.year, f.hasYear = atoi(toks[i]), mon, atoi(toks[i+2]), true
		i += 3
		if i >= len(toks) {
			return time.Time{}, ErrSyntax
		}
		if err := f.clock(toks[i], false); err != nil {
			return time.Time{}, err
		}
		i++
	} else {
		// month day [year] time [zone] [year]
		mon, ok := months[strings.ToLower(toks[i])]
		if !ok || !isDigits(toks[i+1]) || len(toks[i+1]) > 2 {
			return time.Time{}, ErrSyntax
		}
		f.month, f.day = mon, atoi(toks[i+1])
		i += 2
		if isDigits(toks[i]) && len(toks[i]) == 4 {
			f.year, f.hasYear = atoi(toks[i]), true
			i++
		}
		if i >= len(toks) {
			return time.Time{}, ErrSyntax
		}
		if err := f.clock(toks[i], true); err != nil {
			return time.Time{}, err
		}
		i++
	}
	// Optional zone, then (month-first forms only) an optional year.
	if i < len(toks) && !(isDigits(toks[i]) && len(toks[i]) == 4) {
		z, err := zoneToken(toks[i])
		if err != nil {
			return time.Time{}, err
		}
		f.zone = z
		i++
	}
	if i < len(toks) && isDigits(toks[i]) && len(toks[i]) == 4 && !f.hasYear {
		f.year, f.hasYear = atoi(toks[i]), true
		i++
	}
	if i != len(toks) {
		return time.Time{}, ErrSyntax
	}
	zone := f.zone
	if zone == nil {
		if loc == nil {
			return time.Time{}, ErrNoZone
		}
		zone = loc
	}
	var t time.Time
	var err error
	if f.hasYear {
		t, err = date(f.year, int(f.month), f.day, f.h, f.m, f.s, f.ns, zone)
	} else {
		t, err = inferYear(&f, zone, o)
	}
	if err != nil {
		return time.Time{}, err
	}
	if f.hasWeekday && t.Weekday() != f.weekday {
		return time.Time{}, ErrRange
	}
	return t, nil
}

func (f *fields) clock(tok string, needSeconds bool) error {
	h, m, s, ns, rest, ok := parseClock(tok, needSeconds)
	if !ok || rest != "" {
		return ErrSyntax
	}
	f.h, f.m, f.s, f.ns = h, m, s, ns
	return nil
}

// inferYear picks, among the reference's year and its neighbours, the year
// that puts the timestamp closest to the reference (earlier on ties).
func inferYear(f *fields, zone *time.Location, o *options) (time.Time, error) {
	if !o.hasReference {
		return time.Time{}, ErrNoYear
	}
	ref := o.reference.In(zone)
	var best time.Time
	var bestDist time.Duration
	found := false
	for _, y := range []int{ref.Year() - 1, ref.Year(), ref.Year() + 1} {
		t, err := date(y, int(f.month), f.day, f.h, f.m, f.s, f.ns, zone)
		if err != nil {
			if errors.Is(err, ErrRange) && f.month == time.February && f.day == 29 {
				continue // not a leap year
			}
			return time.Time{}, err
		}
		d := t.Sub(o.reference)
		if d < 0 {
			d = -d
		}
		if !found || d < bestDist {
			best, bestDist, found = t, d, true
		}
	}
	if !found {
		return time.Time{}, ErrRange
	}
	return best, nil
}
