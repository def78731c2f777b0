package formattest

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"testing/iotest"

	"github.com/heimdallhub/heimdall/internal/format"
)

// Case describes one format.Reader to the contract tests.
type Case struct {
	// New returns the reader under test, reading r with the limits lim.
	New func(r io.Reader, lim format.Limits) format.Reader
	// Skippable reports whether the reader documents line as one it
	// skips without a record; nil means IsBlankLine.
	Skippable func(line []byte) bool
	// Limits are the (small) limits of the fuzz target, under which
	// Contract reads each input a second time.
	Limits format.Limits
	// Record, if set, checks a further, format-specific invariant of each
	// record read (accepted or rejected) under the limits lim.
	Record func(t testing.TB, lim format.Limits, rec format.Record)
}

func (c Case) skippable() func([]byte) bool {
	if c.Skippable != nil {
		return c.Skippable
	}
	return IsBlankLine
}

// CheckInput reads input with c.New under c.Limits and checks the contract
// (CheckReader), CheckRaw and c.Record on every record. It is the body of a fuzz
// target. It returns the records and the Failure (nil at io.EOF).
func CheckInput(t testing.TB, c Case, input []byte) ([]format.Record, error) {
	t.Helper()
	return c.check(t, input, bytes.NewReader(input), c.Limits)
}

// check reads input from r with c.New under lim and checks the contract,
// CheckRaw and c.Record.
func (c Case) check(t testing.TB, input []byte, r io.Reader, lim format.Limits) ([]format.Record, error) {
	t.Helper()
	recs, err := CheckReader(t, input, c.New(r, lim), c.skippable())
	for _, rec := range recs {
		CheckRaw(t, lim, rec)
		if c.Record != nil {
			c.Record(t, lim, rec)
		}
	}
	return recs, err
}

// Contract checks c's reader on each of inputs (named by the map keys):
// read with the default limits and with c.Limits, the reader keeps the
// contract (CheckReader, CheckRaw and c.Record); read one byte at a time, it
// returns the same records and end.
func Contract(t *testing.T, c Case, inputs map[string][]byte) {
	t.Helper()
	if len(inputs) == 0 {
		t.Fatal("no inputs")
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			recs, err := c.check(t, in, bytes.NewReader(in), format.Limits{})
			CheckInput(t, c, in)
			slow, slowErr := c.check(t, in, iotest.OneByteReader(bytes.NewReader(in)), format.Limits{})
			if !reflect.DeepEqual(slow, recs) || !reflect.DeepEqual(slowErr, err) {
				t.Fatalf("read one byte at a time: %d records, end %v; want %d records, end %v", len(slow), slowErr, len(recs), err)
			}
		})
	}
}

// Fixtures reads the files matching pattern (a filepath.Glob pattern, such
// as "testdata/*.log"), keyed by base name. It fails t when none match.
func Fixtures(t testing.TB, pattern string) map[string][]byte {
	t.Helper()
	names, err := filepath.Glob(pattern)
	if err != nil || len(names) == 0 {
		t.Fatalf("no fixtures match %s: %v", pattern, err)
	}
	out := make(map[string][]byte, len(names))
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(n)] = b
	}
	return out
}
