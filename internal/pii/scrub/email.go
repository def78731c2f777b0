package scrub

func isLocalChar(c byte) bool {
	if isAlnum(c) {
		return true
	}
	// Only the common subset of RFC 5322 atext: '=', '/', '%', '&' etc. are
	// far more often key/value or URL syntax in logs than address characters.
	return c == '.' || c == '_' || c == '+' || c == '-'
}

// FindEmails returns spans of e-mail addresses: a dot-atom local part, "@",
// and a domain of at least two DNS labels whose last label (the TLD) is
// 2–63 letters. Leading/trailing dots of the local part and trailing
// punctuation after the domain are not included.
func FindEmails(s string) []Span {
	var out []Span
	last := 0 // end of previous match; local parts never reach before it
	for i := 0; i < len(s); i++ {
		if s[i] != '@' {
			continue
		}
		// local part: walk left
		a := i
		for a > last && isLocalChar(s[a-1]) && i-a < 64 {
			a--
		}
		for a < i && !isAlnum(s[a]) && s[a] != '_' { // start on an alnum
			a++
		}
		if a == i || s[i-1] == '.' {
			continue
		}
		// domain: labels of [A-Za-z0-9-], separated by single dots
		j := i + 1
		labels, lastLabelStart, lastLabelEnd := 0, 0, 0
		for {
			k := j
			for k < len(s) && (isAlnum(s[k]) || s[k] == '-') && k-j < 63 {
				k++
			}
			if k == j || s[j] == '-' || s[k-1] == '-' {
				break
			}
			labels++
			lastLabelStart, lastLabelEnd = j, k
			if k+1 < len(s) && s[k] == '.' && isAlnum(s[k+1]) {
				j = k + 1
				continue
			}
			break
		}
		if labels < 2 {
			continue
		}
		tld := s[lastLabelStart:lastLabelEnd]
		if len(tld) < 2 || !allLetters(tld) {
			continue
		}
		end := lastLabelEnd
		if end < len(s) && (wordish(s[end]) || s[end] == '@') {
			continue
		}
		out = append(out, Span{Start: a, End: end, Kind: KindEmail})
		last = end
		i = end - 1
	}
	return out
}

func allLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isLetter(s[i]) {
			return false
		}
	}
	return true
}
