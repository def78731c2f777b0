package observable

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/heimdallhub/heimdall/internal/observable/internal/errcheck"
)

// FuzzCanonicalize checks, for any kind and raw value:
//   - Canonicalize and Key never panic;
//   - every canonical observable has a key "<kind>--<UUIDv5>";
//   - canonicalisation is idempotent: canonicalising the canonical value again
//     (with its algorithm as prefix for hashes) gives the same observable key;
//   - error messages never carry the raw value.
func FuzzCanonicalize(f *testing.F) {
	f.Add(uint8(0), "::ffff:1.2.3.4")
	f.Add(uint8(2), "ExAmple.COM.")
	f.Add(uint8(3), "HTTP://user:pw@Example.COM:80/a/./b?q#f")
	f.Add(uint8(4), "SHA256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855")
	f.Add(uint8(7), "AS 1.10")
	f.Add(uint8(11), " ET  POLICY\tx ")
	kinds := Kinds()
	f.Fuzz(func(t *testing.T, k uint8, raw string) {
		kind := kinds[int(k)%len(kinds)]
		o, err := Canonicalize(kind, raw)
		if err != nil {
			if p := errcheck.Problem(err.Error(), raw); p != "" {
				t.Fatal(p)
			}
			return
		}
		key := o.Key()
		prefix, id, ok := strings.Cut(key, "--")
		if !ok || prefix != string(o.Kind) {
			t.Fatalf("Canonicalize(%s, %q) = %+v: bad key %q", kind, raw, o, key)
		}
		if u, err := uuid.Parse(id); err != nil || u.Version() != 5 || len(id) != 36 {
			t.Fatalf("key %q is not a UUIDv5", key)
		}
		again := o.Value
		if len(o.Hashes) > 0 {
			alg, _ := chooseOneHash(o.Hashes)
			again = alg + ":" + o.Value
		}
		o2, err := Canonicalize(o.Kind, again)
		if err != nil || o2.Key() != key {
			t.Fatalf("not idempotent: %s %q -> %+v -> %+v, %v", kind, raw, o, o2, err)
		}
	})
}
