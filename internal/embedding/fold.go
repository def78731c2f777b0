package embedding

import (
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// confusables maps non-ASCII look-alikes to the Latin letter they imitate.
// It is deliberately small (the common attack characters, not the full
// Unicode confusables.txt); changing it changes the scheme (bump
// schemeVersion). Letters with diacritics need no entry: they are decomposed
// (NFD) and their combining marks dropped before this table is consulted.
var confusables = map[rune]rune{
	// Cyrillic.
	'а': 'a', 'е': 'e', 'һ': 'h', 'і': 'i', 'ј': 'j', 'к': 'k',
	'о': 'o', 'р': 'p', 'ԛ': 'q', 'с': 'c', 'ѕ': 's', 'у': 'y', 'ү': 'y',
	'х': 'x', 'ԁ': 'd', 'ԝ': 'w', 'ӏ': 'l',
	// Greek.
	'α': 'a', 'γ': 'y', 'η': 'n', 'ι': 'i', 'κ': 'k',
	'ν': 'v', 'ο': 'o', 'ρ': 'p', 'τ': 't', 'υ': 'u', 'χ': 'x', 'ω': 'w',
	'ϲ': 'c', 'ϳ': 'j',
	// Armenian.
	'օ': 'o', 'ս': 'u', 'հ': 'h', 'ո': 'n', 'զ': 'q', 'ց': 'g',
	// Latin letters without a canonical decomposition.
	'ı': 'i', 'ɩ': 'i', 'ɑ': 'a', 'ɡ': 'g', 'ł': 'l', 'ƚ': 'l', 'ǀ': 'l',
	'đ': 'd', 'ð': 'd', 'ø': 'o', 'ħ': 'h', 'ŧ': 't', 'ƒ': 'f', 'ʋ': 'v',
}

// asciiFold maps ASCII bytes: upper case to lower case, and the digits that
// imitate letters. Zero means "keep".
var asciiFold = func() (t [utf8.RuneSelf]byte) {
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = byte(c - 'A' + 'a')
	}
	t['0'], t['1'], t['3'], t['4'], t['5'], t['7'] = 'o', 'l', 'e', 'a', 's', 't'
	return t
}()

// skeleton appends the confusable skeleton of s to dst and returns it:
// NFD, combining marks (Mn) dropped, ASCII lower-cased and digits folded,
// the confusables table applied, then "rn" -> "m" and "vv" -> "w".
func skeleton(dst []rune, s string) []rune {
	start := len(dst)
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		for i := 0; i < len(s); i++ {
			c := s[i]
			if f := asciiFold[c]; f != 0 {
				c = f
			}
			dst = append(dst, rune(c))
		}
	} else {
		for _, r := range norm.NFD.String(s) {
			switch {
			case r < utf8.RuneSelf:
				if f := asciiFold[r]; f != 0 {
					r = rune(f)
				}
			case unicode.Is(unicode.Mn, r):
				continue
			default:
				r = unicode.ToLower(r)
				if f, ok := confusables[r]; ok {
					r = f
				}
			}
			dst = append(dst, r)
		}
	}
	// Multi-character look-alikes, left to right, in place.
	out := dst[start:]
	w := 0
	for i := 0; i < len(out); i++ {
		r := out[i]
		if i+1 < len(out) {
			switch {
			case r == 'r' && out[i+1] == 'n':
				r, i = 'm', i+1
			case r == 'v' && out[i+1] == 'v':
				r, i = 'w', i+1
			}
		}
		out[w] = r
		w++
	}
	return dst[:start+w]
}
