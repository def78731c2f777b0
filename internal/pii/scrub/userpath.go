package scrub

import "strings"

// notUsers are well-known profile directories that are not personal.
var notUsers = map[string]bool{
	"public": true, "default": true, "default user": true, "all users": true,
	"shared": true, "linuxbrew": true, "defaultapppool": true,
}

func hasPrefixFold(s, p string) bool {
	return len(s) >= len(p) && strings.EqualFold(s[:len(p)], p)
}

// pathRootOK reports whether a path starting at i is rooted in free text
// (start, whitespace, quote, '=', ':', '(' ...) rather than being a segment of
// a longer URL path or word.
func pathRootOK(s string, i int) bool {
	if i == 0 {
		return true
	}
	p := s[i-1]
	if wordish(p) || p == '.' || p == '-' || p == '~' {
		return false
	}
	if p == '/' { // only file:// style prefixes
		return strings.HasSuffix(s[:i], "file://")
	}
	return true
}

func userChar(c byte, encoded bool) bool {
	if c < 0x20 || c == 0x7f {
		return false
	}
	switch c {
	case '/', '\\', '[', ']', ':', ';', '|', '=', ',', '+', '*', '?', '<', '>', '"', '\'', '`', '&', '#':
		return false
	case '%':
		return !encoded
	}
	return true
}

// FindUserPaths returns spans covering only the user-name segment of home
// directory paths:
//
//   - "/home/<user>" (lower case) and "/Users/<user>" (macOS capitalisation),
//     rooted in free text (not a segment of a longer URL path);
//   - "X:\Users\<user>" case-insensitive, with single or JSON-escaped
//     double backslashes, or "X:/Users/<user>";
//   - the URL-encoded forms "%2Fhome%2F<user>", "%2FUsers%2F<user>" and
//     "X%3A%5CUsers%5C<user>" (hex case-insensitive).
//
// The user segment ends at a path separator, whitespace, quote or other
// reserved character (Windows forms may contain spaces when a backslash
// follows). Placeholders such as "$USER", "%USERNAME%", "<user>", "{user}"
// and shared profiles (Public, Default, All Users, Shared) are ignored.
func FindUserPaths(s string) []Span {
	var out []Span
	for i := 0; i < len(s); i++ {
		start, encoded, spaces := -1, false, false
		switch s[i] {
		case '/':
			if strings.HasPrefix(s[i:], "/home/") && pathRootOK(s, i) {
				start = i + 6
			} else if strings.HasPrefix(s[i:], "/Users/") && (pathRootOK(s, i) || (i >= 2 && s[i-1] == ':' && isLetter(s[i-2]))) {
				start = i + 7
			}
		case ':':
			if i > 0 && isLetter(s[i-1]) && (i < 2 || !wordish(s[i-2])) {
				j := i + 1
				bs := 0
				for j < len(s) && s[j] == '\\' && bs < 2 {
					j++
					bs++
				}
				if bs > 0 && hasPrefixFold(s[j:], "users") {
					k := j + 5
					for n := 0; n < bs && k < len(s) && s[k] == '\\'; n++ {
						k++
					}
					if k-(j+5) == bs {
						start, spaces = k, true
					}
				}
			}
		case '%':
			switch {
			case hasPrefixFold(s[i:], "%2Fhome%2F") && pathRootOK(s, i):
				start, encoded = i+10, true
			case hasPrefixFold(s[i:], "%2FUsers%2F") && pathRootOK(s, i):
				start, encoded = i+11, true
			case hasPrefixFold(s[i:], "%3A%5CUsers%5C") && i > 0 && isLetter(s[i-1]) && (i < 2 || !wordish(s[i-2])):
				start, encoded = i+14, true
			}
		}
		if start < 0 {
			continue
		}
		end := start
		lastNonSpace := start
		for end < len(s) && userChar(s[end], encoded) && end-start < 128 {
			if s[end] == ' ' && !spaces {
				break
			}
			if s[end] != ' ' {
				lastNonSpace = end + 1
			}
			end++
		}
		if spaces && end < len(s) && s[end] != '\\' {
			// spaces allowed only inside a segment closed by a backslash
			if k := strings.IndexByte(s[start:end], ' '); k >= 0 {
				end = start + k
			}
		}
		if end > lastNonSpace {
			end = lastNonSpace
		}
		if spaces && end == len(s) {
			if k := strings.IndexByte(s[start:end], ' '); k >= 0 {
				end = start + k
			}
		}
		name := s[start:end]
		if name == "" || name == "." || name == ".." || notUsers[strings.ToLower(name)] {
			i = start - 1
			continue
		}
		switch name[0] {
		case '$', '%', '{', '<', '*', '~', '(':
			i = start - 1
			continue
		}
		out = append(out, Span{Start: start, End: end, Kind: KindUserName})
		i = end - 1
	}
	return out
}
