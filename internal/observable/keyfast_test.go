package observable

import "testing"

// TestKeyFastPathsMatch: the reflection-free key paths give exactly the
// general JCS encoder's keys, including for strings that need escaping.
func TestKeyFastPathsMatch(t *testing.T) {
	values := []string{"192.0.2.1", "example.com", "http://a/\"q\"\\x?\u2028", "ü\t\x01", "x\U0001F600"}
	for _, k := range []Kind{KindIPv4Addr, KindDomainName, KindURL, KindHost, KindUserAgent} {
		for _, v := range values {
			o := Observable{Kind: k, Value: v}
			ns := STIXNamespace
			if !k.IsSTIX() {
				ns = HeimdallNamespace
			}
			slow, err := deterministicID(string(k), ns, o.idProperties())
			if err != nil {
				t.Fatal(err)
			}
			if fast := o.Key(); fast != slow {
				t.Errorf("%s %q: fast %s, general %s", k, v, fast, slow)
			}
		}
	}
	for _, v := range values {
		if RelationKey(v, "RESOLVES_TO", v+"x") != relationKeySlow(v, "RESOLVES_TO", v+"x") {
			t.Errorf("relation key differs for %q", v)
		}
	}
	if (Observable{Kind: KindIPv4Addr, Value: "\xff"}).Key() != "" || RelationKey("\xff", "A", "b") != "" {
		t.Error("invalid UTF-8 gave a key")
	}
}
