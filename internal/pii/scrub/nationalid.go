package scrub

import (
	"errors"
	"sort"
)

// National-id scheme names accepted by FindNationalIDs and Config.NationalIDs.
const (
	SchemeUSSSN  = "us_ssn"
	SchemeUKNINO = "uk_nino"
	SchemeNLBSN  = "nl_bsn"
	SchemeESDNI  = "es_dni"
)

// ErrUnknownScheme is returned for national-id scheme names that are not
// supported.
var ErrUnknownScheme = errors.New("scrub: unknown national id scheme")

var nationalIDFinders = map[string]func(string) []Span{
	SchemeUSSSN:  findSSN,
	SchemeUKNINO: findNINO,
	SchemeNLBSN:  findBSN,
	SchemeESDNI:  findDNI,
}

// NationalIDSchemes returns the supported national-id scheme names, sorted.
func NationalIDSchemes() []string {
	out := make([]string, 0, len(nationalIDFinders))
	for k := range nationalIDFinders {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// FindNationalIDs returns spans of national identifiers of the named scheme
// (see NationalIDSchemes). Spans carry Kind KindNationalID and Scheme set
// to the scheme name.
func FindNationalIDs(s, scheme string) ([]Span, error) {
	f, ok := nationalIDFinders[scheme]
	if !ok {
		return nil, ErrUnknownScheme
	}
	return f(s), nil
}

// findSSN: US Social Security Number "AAA-GG-SSSS" (dashes required);
// area not 000, 666 or 900–999, group not 00, serial not 0000, and not the
// well-known advertising numbers 078-05-1120 and 219-09-9999.
func findSSN(s string) []Span {
	var out []Span
	for i := 0; i+11 <= len(s); i++ {
		if !isDigit(s[i]) || !numStartOK(s, i) {
			continue
		}
		t := s[i : i+11]
		if t[3] != '-' || t[6] != '-' || !digitsAt(t, 0, 3) || !digitsAt(t, 4, 6) || !digitsAt(t, 7, 11) || !numEndOK(s, i+11) {
			continue
		}
		area, group, serial := t[0:3], t[4:6], t[7:11]
		if area == "000" || area == "666" || area[0] == '9' || group == "00" || serial == "0000" ||
			t == "078-05-1120" || t == "219-09-9999" {
			continue
		}
		out = append(out, Span{Start: i, End: i + 11, Kind: KindNationalID, Scheme: SchemeUSSSN})
		i += 10
	}
	return out
}

func digitsAt(s string, a, b int) bool {
	for k := a; k < b; k++ {
		if !isDigit(s[k]) {
			return false
		}
	}
	return true
}

// findNINO: UK National Insurance number, upper case, "AB123456C" or
// "AB 12 34 56 C": valid prefix letters (first not D F I Q U V, second not
// D F I O Q U V, pair not BG GB KN NK NT TN ZZ) and suffix A–D.
func findNINO(s string) []Span {
	var out []Span
	for i := 0; i+9 <= len(s); i++ {
		a := s[i]
		if !isUpper(a) || (i > 0 && wordish(s[i-1])) || i+1 >= len(s) || !isUpper(s[i+1]) {
			continue
		}
		b := s[i+1]
		if indexByte("DFIQUV", a) || indexByte("DFIOQUV", b) {
			continue
		}
		switch string([]byte{a, b}) {
		case "BG", "GB", "KN", "NK", "NT", "TN", "ZZ":
			continue
		}
		j := i + 2
		spaced := j < len(s) && s[j] == ' '
		ok := true
		for p := 0; p < 3 && ok; p++ {
			if spaced {
				if j >= len(s) || s[j] != ' ' {
					ok = false
					break
				}
				j++
			}
			if j+2 > len(s) || !isDigit(s[j]) || !isDigit(s[j+1]) {
				ok = false
				break
			}
			j += 2
		}
		if !ok {
			continue
		}
		if spaced && j < len(s) && s[j] == ' ' {
			j++
		}
		if j >= len(s) || s[j] < 'A' || s[j] > 'D' {
			continue
		}
		j++
		if j < len(s) && wordish(s[j]) {
			continue
		}
		out = append(out, Span{Start: i, End: j, Kind: KindNationalID, Scheme: SchemeUKNINO})
		i = j - 1
	}
	return out
}

// findBSN: Dutch burgerservicenummer, 9 digits (or "dddd.dd.ddd") passing
// the 11-proef (9·d1 + 8·d2 + … + 2·d8 − d9 ≡ 0 mod 11), not all zeros.
// Bare 9-digit numbers are common in logs, so enable this scheme only for
// sources that may carry Dutch citizen data.
func findBSN(s string) []Span {
	var out []Span
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) || !numStartOK(s, i) {
			continue
		}
		end, d, groups, sep := digitRun(s, i, ".", 9)
		shapeOK := (sep == 0 && len(groups) == 1) ||
			(sep == '.' && len(groups) == 3 && groups[0] == 4 && groups[1] == 2 && groups[2] == 3)
		if len(d) == 9 && shapeOK && numEndOK(s, end) && elfProef(d) {
			out = append(out, Span{Start: i, End: end, Kind: KindNationalID, Scheme: SchemeNLBSN})
		}
		i = end - 1
	}
	return out
}

func elfProef(d []byte) bool {
	sum, nz := 0, false
	for k := 0; k < 8; k++ {
		v := int(d[k] - '0')
		nz = nz || v != 0
		sum += (9 - k) * v
	}
	sum -= int(d[8] - '0')
	return nz && sum%11 == 0
}

// findDNI: Spanish DNI "12345678Z" / NIE "X1234567L" with the mod-23 control
// letter (upper case).
func findDNI(s string) []Span {
	const letters = "TRWAGMYFPDXBNJZSQVHLCKE"
	var out []Span
	for i := 0; i+9 <= len(s); i++ {
		c := s[i]
		if !(isDigit(c) || c == 'X' || c == 'Y' || c == 'Z') || (i > 0 && wordish(s[i-1])) {
			continue
		}
		if !digitsAt(s, i+1, i+8) || !isUpper(s[i+8]) || (i+9 < len(s) && wordish(s[i+9])) {
			continue
		}
		n := 0
		switch c {
		case 'X':
			n = 0
		case 'Y':
			n = 1
		case 'Z':
			n = 2
		default:
			n = int(c - '0')
		}
		for k := i + 1; k < i+8; k++ {
			n = n*10 + int(s[k]-'0')
		}
		if letters[n%23] != s[i+8] {
			continue
		}
		out = append(out, Span{Start: i, End: i + 9, Kind: KindNationalID, Scheme: SchemeESDNI})
		i += 8
	}
	return out
}
