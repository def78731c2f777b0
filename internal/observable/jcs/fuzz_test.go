package jcs

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/heimdallhub/heimdall/internal/observable/internal/errcheck"
)

// FuzzTransform checks, for any input:
//   - Transform never panics;
//   - on success the output is valid JSON, is a fixed point
//     (Transform(Transform(x)) == Transform(x)), and decodes to the same
//     value as the input (canonicalisation does not change meaning);
//   - on failure the error message does not carry the input.
func FuzzTransform(f *testing.F) {
	f.Add([]byte(`{"b":1,"a":[true,null,"x"]}`))
	f.Add([]byte(`{"\u20ac":1,"\ud83d\ude00":2,"\ufb33":3}`))
	f.Add([]byte(`[1E30, 4.50, 2e-3, 0.000000000000000000000000001, -0]`))
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := Transform(in)
		if err != nil {
			if p := errcheck.Problem(err.Error(), string(in)); p != "" {
				t.Fatal(p)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("output is not valid JSON: %q", out)
		}
		again, err := Transform(out)
		if err != nil {
			t.Fatalf("canonical output rejected: %v", err)
		}
		if !bytes.Equal(out, again) {
			t.Fatalf("not idempotent:\n%q\n%q", out, again)
		}
		var a, b any
		if json.Unmarshal(in, &a) == nil && json.Unmarshal(out, &b) == nil && !sameJSON(a, b) {
			t.Fatalf("meaning changed:\n%q\n%q", in, out)
		}
	})
}

// sameJSON compares decoded JSON trees; numbers compare with == so that -0
// (written as 0 by RFC 8785) equals 0.
func sameJSON(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !sameJSON(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameJSON(x[i], y[i]) {
				return false
			}
		}
		return true
	case float64:
		y, ok := b.(float64)
		return ok && x == y
	default:
		return a == b
	}
}
