package scrub

// digitRun scans digits starting at i, allowing single separators from seps
// between digits. It returns the end index, the digits, the group lengths and
// the separator used (0 if none). Mixed separators end the run.
func digitRun(s string, i int, seps string, maxDigits int) (end int, digits []byte, groups []int, sep byte) {
	j := i
	g := 0
	for j < len(s) {
		c := s[j]
		if isDigit(c) {
			digits = append(digits, c)
			g++
			j++
			if len(digits) > maxDigits {
				return j, digits, groups, sep
			}
			continue
		}
		if g > 0 && j+1 < len(s) && isDigit(s[j+1]) && indexByte(seps, c) && (sep == 0 || sep == c) {
			sep = c
			groups = append(groups, g)
			g = 0
			j++
			continue
		}
		break
	}
	if g > 0 {
		groups = append(groups, g)
	}
	return j, digits, groups, sep
}

func indexByte(s string, c byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return true
		}
	}
	return false
}

// luhn reports whether the digit string passes the Luhn (mod 10) check.
func luhn(d []byte) bool {
	sum, dbl := 0, false
	for i := len(d) - 1; i >= 0; i-- {
		n := int(d[i] - '0')
		if dbl {
			n *= 2
			if n > 9 {
				n -= 9
			}
		}
		sum += n
		dbl = !dbl
	}
	return sum%10 == 0
}

func prefixNum(d []byte, n int) int {
	v := 0
	for i := 0; i < n && i < len(d); i++ {
		v = v*10 + int(d[i]-'0')
	}
	return v
}

// knownIIN reports whether the digits start with the issuer identification
// number range of a major card scheme (Visa, Mastercard, Amex, Discover,
// JCB, Diners, UnionPay, Maestro, Mir).
func knownIIN(d []byte) bool {
	p1, p2, p3, p4, p6 := prefixNum(d, 1), prefixNum(d, 2), prefixNum(d, 3), prefixNum(d, 4), prefixNum(d, 6)
	switch {
	case p1 == 4: // Visa
		return true
	case p2 >= 51 && p2 <= 55, p4 >= 2221 && p4 <= 2720: // Mastercard
		return true
	case p2 == 34 || p2 == 37: // Amex
		return true
	case p4 == 6011, p2 == 65, p3 >= 644 && p3 <= 649, p6 >= 622126 && p6 <= 622925: // Discover
		return true
	case p4 >= 3528 && p4 <= 3589: // JCB
		return true
	case p3 >= 300 && p3 <= 305, p2 == 36, p2 == 38, p2 == 39: // Diners
		return true
	case p2 == 62, p2 == 81: // UnionPay
		return true
	case p2 == 50, p2 >= 56 && p2 <= 69: // Maestro
		return true
	case p4 >= 2200 && p4 <= 2204: // Mir
		return true
	}
	return false
}

func allSame(d []byte) bool {
	for i := 1; i < len(d); i++ {
		if d[i] != d[0] {
			return false
		}
	}
	return true
}

// FindCards returns spans of payment card numbers: 13–19 digits, either
// contiguous or grouped with a single consistent separator (space or dash;
// first group of 4 digits, other groups 3–6 digits), passing the Luhn check,
// not a single repeated digit, and bounded by non-word characters. Unless
// anyIIN is set the number must also start with a known IIN range, which
// keeps epoch timestamps and other long counters out.
func FindCards(s string, anyIIN bool) []Span {
	var out []Span
	var buf []byte
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) || !numStartOK(s, i) {
			continue
		}
		end, d, groups, sep := digitRun(s, i, " -", 19)
		buf = d
		if len(buf) >= 13 && len(buf) <= 19 && numEndOK(s, end) &&
			cardGroupsOK(groups, sep) && !allSame(buf) && luhn(buf) && (anyIIN || knownIIN(buf)) {
			out = append(out, Span{Start: i, End: end, Kind: KindCard})
		}
		i = end - 1 // digits left over after an over-long run fail numStartOK
	}
	return out
}

func cardGroupsOK(groups []int, sep byte) bool {
	if sep == 0 {
		return len(groups) == 1
	}
	if groups[0] != 4 || len(groups) < 3 {
		return false
	}
	for _, g := range groups[1:] {
		if g < 3 || g > 6 {
			return false
		}
	}
	return true
}
