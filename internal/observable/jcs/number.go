package jcs

import (
	"math"
	"strconv"
	"strings"
)

// FormatNumber returns the ECMAScript Number.prototype.toString form of f, as
// RFC 8785 section 3.2.2.3 requires. NaN and ±Inf are rejected. Negative zero
// is written as "0".
//
// Go's shortest round-trip formatting (strconv 'f'/'e' with precision -1)
// yields the same digits as ECMAScript's algorithm; only the choice between
// fixed and exponential notation and the exponent spelling differ, and those
// follow ECMA-262 Number::toString: fixed notation for 1e-7 < |f| < 1e21,
// otherwise exponential with an explicit sign and no leading zeros.
func FormatNumber(f float64) (string, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "", ErrNumber
	}
	if f == 0 {
		return "0", nil
	}
	sign := ""
	if f < 0 {
		sign = "-"
		f = -f
	}
	if f >= 1e-6 && f < 1e21 {
		return sign + strconv.FormatFloat(f, 'f', -1, 64), nil
	}
	s := strconv.FormatFloat(f, 'e', -1, 64)
	// Go writes at least two exponent digits ("1e-07"); ECMAScript writes
	// the minimum ("1e-7").
	if i := strings.IndexByte(s, 'e'); i > 0 && i+2 < len(s) && s[i+2] == '0' {
		s = s[:i+2] + s[i+3:]
	}
	return sign + s, nil
}
