package enrichment

import (
	"strings"
	"testing"
)

// TestJSONDepthAtMost: the depth scan counts brackets outside strings only.
func TestJSONDepthAtMost(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want bool
	}{
		{`{"a":[1,[2]]}`, 3, true},
		{`{"a":[1,[2]]}`, 2, false},
		{`{"a":"[[[[[[\"[[["}`, 1, true},
		{`"\\"[[`, 1, false},
		{strings.Repeat("[", 65) + strings.Repeat("]", 65), 64, false},
	} {
		if got := JSONDepthAtMost([]byte(tc.in), tc.max); got != tc.want {
			t.Errorf("JSONDepthAtMost(%s, %d) = %v", tc.in, tc.max, got)
		}
	}
}
