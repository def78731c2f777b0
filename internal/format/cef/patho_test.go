package cef

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heimdallhub/heimdall/internal/format"
)

func manyKeys(n int) string {
	var sb strings.Builder
	for i := range n {
		sb.WriteString(" k")
		sb.WriteString(strconv.Itoa(i))
		sb.WriteString("=v w")
	}
	return sb.String()
}

// TestPathological checks parsing stays linear on adversarial lines of
// about 1 MB.
func TestPathological(t *testing.T) {
	lim := format.Limits{MaxLineBytes: 4 << 20, MaxFieldBytes: 4 << 20, MaxFields: 1 << 20}
	for name, in := range map[string]string{
		"spaces":      "CEF:0|a|b|c|d|e|f|k=" + strings.Repeat("a ", 500000),
		"keyish":      "CEF:0|a|b|c|d|e|f|k=" + strings.Repeat(" aaaaaaaaaa", 200000),
		"many keys":   "CEF:0|a|b|c|d|e|f|" + manyKeys(100000),
		"pipes":       "CEF:" + strings.Repeat("\\|", 500000),
		"backslashes": "CEF:0|a|b|c|d|e|f|k=" + strings.Repeat("\\", 1000000),
		"syslog":      strings.Repeat("Nov ", 250000) + "CEF:0|a|b|c|d|e|f|",
	} {
		start := time.Now()
		Parse([]byte(in), lim)
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s: %v", name, d)
		}
	}
}
