package errcheck

import "strings"

const safe = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:;()/-_'"

// minVerbatim is the input length from which a safe-only input appearing in a
// message is treated as a leak rather than a coincidence with the fixed text.
const minVerbatim = 24

// Problem returns a description of why msg is not an acceptable error message
// for input, or "" if it is acceptable.
func Problem(msg, input string) string {
	for i := 0; i < len(msg); i++ {
		if strings.IndexByte(safe, msg[i]) < 0 {
			return "error message contains a byte outside the fixed-text alphabet (possible input leak)"
		}
	}
	in := strings.TrimSpace(input)
	if len(in) >= minVerbatim && strings.Contains(msg, in) {
		return "error message contains the input verbatim"
	}
	return ""
}
