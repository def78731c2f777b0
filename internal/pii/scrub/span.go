package scrub

// Kind identifies the category of personal data a Span covers.
type Kind string

// Detector kinds.
const (
	KindEmail      Kind = "email"
	KindPhone      Kind = "phone"
	KindCard       Kind = "card"
	KindIBAN       Kind = "iban"
	KindNationalID Kind = "national_id"
	KindUserName   Kind = "user"
)

// Span is a half-open byte range [Start, End) of the scanned string that holds
// personal data of the given Kind. Scheme names the national-id scheme
// (e.g. "us_ssn") for KindNationalID spans and is empty otherwise.
type Span struct {
	Start, End int
	Kind       Kind
	Scheme     string
}

// Len returns the byte length of the span.
func (sp Span) Len() int { return sp.End - sp.Start }

// specificity ranks kinds for tie-breaking between equally long overlapping
// spans: a higher value wins.
func specificity(k Kind) int {
	switch k {
	case KindCard:
		return 6
	case KindIBAN:
		return 5
	case KindNationalID:
		return 4
	case KindEmail:
		return 3
	case KindUserName:
		return 2
	case KindPhone:
		return 1
	}
	return 0
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isLetter(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}
func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
func isAlnum(c byte) bool { return isDigit(c) || isLetter(c) }

// wordish reports whether c continues an identifier-like token; non-ASCII
// bytes count as word characters so that numbers glued to letters in any
// script are not treated as standalone tokens.
func wordish(c byte) bool { return isAlnum(c) || c == '_' || c >= 0x80 }

// numStartOK reports whether a numeric token may start at i, i.e. the
// preceding context does not make it part of a larger token (a word, a dotted
// version or IP, a port, a path segment, a fraction).
func numStartOK(s string, i int) bool {
	if i == 0 {
		return true
	}
	p := s[i-1]
	if wordish(p) {
		return false
	}
	switch p {
	case '.', ':', '/', '@', '%', '$', '#', '\\':
		return false
	case '-':
		// "abc-123..." or "12-..." continue a token; a lone dash is fine.
		return i < 2 || !wordish(s[i-2])
	}
	return true
}

// numEndOK reports whether a numeric token may end at j.
func numEndOK(s string, j int) bool {
	if j >= len(s) {
		return true
	}
	c := s[j]
	if wordish(c) {
		return false
	}
	switch c {
	case ':', '@', '%', '/', '\\':
		return false
	case '.', '-', ',':
		// trailing punctuation is fine, but not when followed by more digits.
		return j+1 >= len(s) || !isDigit(s[j+1])
	}
	return true
}
