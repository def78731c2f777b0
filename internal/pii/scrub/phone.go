package scrub

// FindPhones returns spans of telephone numbers with 7–15 digits in total:
//
//   - international: "+" country code (first digit 1–9), 8–15 digits,
//     optionally grouped with space, dash, dot or a parenthesised group;
//   - "00" international prefix followed by 8–13 digits, grouped;
//   - NANP: "NXX-NXX-XXXX", "(NXX) NXX-XXXX", "1-NXX-NXX-XXXX" with a
//     consistent separator;
//   - national trunk form starting with "0": 9–12 digits in at least two
//     groups of ≥2 digits (e.g. "020 7946 0958", "01.23.45.67.89").
//
// Bare digit runs without "+" are never phones. Dotted quads that look like
// IPv4 addresses, dates (yyyy-mm-dd, dd.mm.yyyy), tokens glued to letters,
// ports (":8080"), times ("10:00") and version strings are rejected by the
// grouping and boundary rules.
func FindPhones(s string) []Span {
	var out []Span
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isDigit(c) || c == '+' || c == '(') || !numStartOK(s, i) {
			continue
		}
		if c == '+' && i > 0 && s[i-1] == '+' {
			continue
		}
		end, ok := phoneAt(s, i)
		if ok {
			out = append(out, Span{Start: i, End: end, Kind: KindPhone})
		}
		// never restart inside a consumed numeric token
		if end > i+1 {
			i = end - 1
		}
	}
	return out
}

type phoneGroup struct {
	n     int
	paren bool
	sep   byte // separator preceding this group (0 for the first)
}

func phoneAt(s string, i int) (int, bool) {
	plus := false
	j := i
	if s[j] == '+' {
		plus = true
		j++
		if j >= len(s) || !isDigit(s[j]) || s[j] == '0' {
			return 0, false
		}
	}
	var groups []phoneGroup
	var digits []byte
	var sep byte
	for j < len(s) && len(digits) <= 15 {
		paren := false
		k := j
		if s[k] == '(' {
			paren = true
			k++
		}
		st := k
		for k < len(s) && isDigit(s[k]) {
			digits = append(digits, s[k])
			k++
		}
		n := k - st
		if n == 0 {
			break
		}
		if paren {
			if k >= len(s) || s[k] != ')' {
				return 0, false
			}
			k++
		}
		groups = append(groups, phoneGroup{n: n, paren: paren, sep: sep})
		j = k
		sep = 0
		// optional separator before the next group
		if j < len(s) && (s[j] == ' ' || s[j] == '-' || s[j] == '.') && j+1 < len(s) && (isDigit(s[j+1]) || s[j+1] == '(') {
			sep = s[j]
			j++
		} else if !paren || j >= len(s) || !isDigit(s[j]) {
			break
		}
	}
	if sep != 0 { // dangling separator consumed without a group
		j--
	}
	if len(groups) == 0 || len(digits) < 7 || len(digits) > 15 || !numEndOK(s, j) || allSame(digits) {
		return j, false
	}
	// A closing parenthesis after the number ends a parenthetical remark
	// ("(call +44 20 7946 0958)"); it is not part of the number.
	// separators: '.' must not be mixed with anything else
	dots, others := 0, 0
	for _, g := range groups[1:] {
		if g.sep == '.' {
			dots++
		} else if g.sep != 0 {
			others++
		}
	}
	if dots > 0 && others > 0 {
		return j, false
	}
	if plus {
		return j, len(digits) >= 8
	}
	if len(groups) < 2 || looksLikeIPv4(groups) || looksLikeDate(groups, digits) {
		return j, false
	}
	if nanp(groups, digits) {
		return j, true
	}
	if digits[0] != '0' {
		return j, false
	}
	for _, g := range groups {
		if g.n < 2 {
			return j, false
		}
	}
	if digits[1] == '0' { // 00 international prefix
		return j, len(digits) >= 10 && len(digits) <= 15
	}
	return j, len(digits) >= 9 && len(digits) <= 12
}

func looksLikeIPv4(g []phoneGroup) bool {
	if len(g) != 4 {
		return false
	}
	for _, x := range g {
		if x.n > 3 || (x.sep != 0 && x.sep != '.') {
			return false
		}
	}
	return true
}

func looksLikeDate(g []phoneGroup, d []byte) bool {
	if len(g) < 3 || g[1].sep != g[2].sep {
		return false
	}
	a, b, c := g[0].n, g[1].n, g[2].n
	if a == 4 && b == 2 && c == 2 { // yyyy-mm-dd
		y := prefixNum(d, 4)
		return y >= 1900 && y <= 2199
	}
	return a <= 2 && b <= 2 && (c == 4 || (c == 2 && len(g) == 3)) // dd.mm.yyyy, dd.mm.yy
}

// nanp matches North American numbers: [1] NXX NXX XXXX.
func nanp(g []phoneGroup, d []byte) bool {
	off := 0
	if len(g) == 4 && g[0].n == 1 && d[0] == '1' && !g[0].paren {
		off = 1
		g = g[1:]
	}
	if len(g) != 3 || g[0].n != 3 || g[1].n != 3 || g[2].n != 4 {
		return false
	}
	if g[1].paren || g[2].paren {
		return false
	}
	if !g[0].paren && g[1].sep != g[2].sep {
		return false
	}
	if g[0].paren && g[1].sep == '.' {
		return false
	}
	area, exch := d[off], d[off+3]
	return area >= '2' && exch >= '2'
}
