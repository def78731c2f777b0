package zeek

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/heimdallhub/heimdall/internal/format"
	"github.com/heimdallhub/heimdall/internal/format/formattest"
)

// fuzzLimits are small so that the fuzzer reaches the limits.
var fuzzLimits = format.Limits{MaxLineBytes: 512, MaxFieldBytes: 64, MaxFields: 16, MaxDepth: 8, MaxRejectRaw: 48}

// tsvSkip: header, comment and blank lines are the documented skips.
func tsvSkip(l []byte) bool { return len(l) == 0 || l[0] == '#' }

// jsonSkip: blank lines and the btest banner.
func jsonSkip(l []byte) bool { return formattest.IsBlankLine(l) || bytes.HasPrefix(l, btestBanner) }

// tsvContract and jsonContract describe the two Zeek readers to the shared
// contract tests; FuzzTSV and FuzzJSON check the same.
var (
	tsvContract = formattest.Case{
		New:       func(r io.Reader, lim format.Limits) format.Reader { return NewReader(r, lim) },
		Skippable: tsvSkip,
		Limits:    fuzzLimits,
	}
	jsonContract = formattest.Case{
		New:       func(r io.Reader, lim format.Limits) format.Reader { return NewJSONReader(r, lim) },
		Skippable: jsonSkip,
		Limits:    fuzzLimits,
	}
)

func TestContract(t *testing.T) {
	tsv, json := map[string][]byte{}, map[string][]byte{}
	for name, b := range formattest.Fixtures(t, "testdata/*.log") {
		if strings.Contains(name, "json") {
			json[name] = b
		} else {
			tsv[name] = b
		}
	}
	t.Run("TSV", func(t *testing.T) { formattest.Contract(t, tsvContract, tsv) })
	t.Run("JSON", func(t *testing.T) { formattest.Contract(t, jsonContract, json) })
}

func TestRejectRaw(t *testing.T) {
	t.Run("TSV", func(t *testing.T) {
		formattest.CheckRejectRaw(t, tsvContract.New, formattest.RawInput{
			Header: "#separator \\x09\n#fields\tuser\tbytes\n#types\tstring\tcount\n",
			Good:   "alice\t1",
			Bad:    "secret@example.org\tnot-a-count",
		})
	})
	t.Run("JSON", func(t *testing.T) {
		formattest.CheckRejectRaw(t, jsonContract.New, formattest.RawInput{
			Good: `{"_path":"conn","ts":1.5}`,
			Bad:  `{"_path":"conn","user":"secret@example.org",}`,
		})
	})
}
