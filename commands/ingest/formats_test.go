package ingest

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/heimdallhub/heimdall/events"
)

// sameObsInputs are the files of testdata/sameobs by format: the same
// observations written as each tool writes them.
var sameObsInputs = map[string][]string{
	"zeek":   {"conn.log", "dns.log", "http.log", "files.log"},
	"eve":    {"eve.json"},
	"cef":    {"events.cef"},
	"csv":    {"flows.csv"},
	"ndjson": {"records.ndjson"},
}

// entitiesOf ingests files (format sniffed) and returns "key kind value" of
// every entity observed, sorted and distinct, and the rows/accepted counts.
func entitiesOf(t *testing.T, files []string) ([]string, Result) {
	t.Helper()
	log := &memLog{}
	h, codec := newHandler(t, log)
	var total Result
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join("testdata/sameobs", f))
		if err != nil {
			t.Fatal(err)
		}
		c := cmd("")
		c.Body = bytes.NewReader(b)
		c.BatchID = "batch-" + f
		res, err := h.Handle(context.Background(), c)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if res.Rejected != 0 {
			t.Fatalf("%s (%s): rejects %+v", f, res.Format, res.Rejects)
		}
		total.Rows += res.Rows
		total.Accepted += res.Accepted
	}
	set := map[string]bool{}
	for _, v := range log.records["ev"] {
		e, err := codec.Decode(v)
		if err != nil {
			t.Fatal(err)
		}
		if p, ok := e.Payload.(events.EntityObserved); ok {
			set[e.Key+" "+p.Kind+" "+p.Value] = true
		}
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out, total
}

// TestSameObservablesEveryFormat: the same observables delivered as Zeek,
// EVE, CEF, CSV and NDJSON produce identical entities and keys.
func TestSameObservablesEveryFormat(t *testing.T) {
	want, _ := entitiesOf(t, sameObsInputs["ndjson"])
	if len(want) != 6 {
		t.Fatalf("NDJSON gives %d entities, want 6:\n%s", len(want), strings.Join(want, "\n"))
	}
	for name, files := range sameObsInputs {
		got, res := entitiesOf(t, files)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s entities differ from NDJSON's:\n%s\n--- want\n%s", name, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if res.Rows != res.Accepted {
			t.Errorf("%s: %+v", name, res)
		}
	}
}
