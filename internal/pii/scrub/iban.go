package scrub

// ibanLengths maps ISO 3166 country codes to total IBAN length (ISO 13616
// registry) for the commonly seen countries.
var ibanLengths = map[string]int{
	"AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22,
	"BH": 22, "BR": 29, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18,
	"DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22,
	"GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22,
	"IL": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LI": 21,
	"LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27,
	"MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25,
	"QA": 29, "RO": 24, "RS": 22, "SA": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27,
	"TN": 24, "TR": 26, "UA": 29, "VG": 24, "XK": 20,
}

func upper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

// FindIBANs returns spans of IBANs: a country code from the length table,
// two check digits (02–98) and a BBAN, written either compact or in groups
// of four separated by single spaces, whose total length matches the
// country and which passes the ISO 13616 / ISO 7064 mod-97 check. Letters
// are matched case-insensitively (the country code must be a consistent
// case).
func FindIBANs(s string) []Span {
	var out []Span
	var buf [34]byte
	for i := 0; i+4 <= len(s); i++ {
		if !isLetter(s[i]) || !isLetter(s[i+1]) || !isDigit(s[i+2]) || !isDigit(s[i+3]) {
			continue
		}
		if i > 0 && wordish(s[i-1]) {
			continue
		}
		if isUpper(s[i]) != isUpper(s[i+1]) {
			continue
		}
		want, ok := ibanLengths[string([]byte{upper(s[i]), upper(s[i+1])})]
		if !ok {
			continue
		}
		n, j := 0, i
		for j < len(s) && n < want {
			c := s[j]
			if isAlnum(c) {
				buf[n] = upper(c)
				n++
				j++
				continue
			}
			if c == ' ' && n%4 == 0 && n > 0 && j+1 < len(s) && isAlnum(s[j+1]) {
				j++
				continue
			}
			break
		}
		if n != want || (j < len(s) && wordish(s[j])) {
			continue
		}
		if ibanValid(buf[:n]) {
			out = append(out, Span{Start: i, End: j, Kind: KindIBAN})
			i = j - 1
		}
	}
	return out
}

// ibanValid checks the check digits and the mod-97 remainder of a compact,
// upper-case IBAN.
func ibanValid(b []byte) bool {
	chk := prefixNum(b[2:4], 2)
	if chk < 2 || chk > 98 {
		return false
	}
	rem := 0
	add := func(c byte) bool {
		switch {
		case isDigit(c):
			rem = (rem*10 + int(c-'0')) % 97
		case isUpper(c):
			v := int(c-'A') + 10
			rem = (rem*100 + v) % 97
		default:
			return false
		}
		return true
	}
	for _, c := range b[4:] {
		if !add(c) {
			return false
		}
	}
	for _, c := range b[:4] {
		if !add(c) {
			return false
		}
	}
	return rem == 1
}
