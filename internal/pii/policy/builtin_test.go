package policy

import (
	"bytes"
	"regexp"
	"testing"
)

func TestBuiltinParses(t *testing.T) {
	p, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}\.[0-9]+$`).MatchString(p.Version()) {
		t.Errorf("version %q is not YYYY-MM-DD.N", p.Version())
	}
	if got := p.Levels(); len(got) != 4 || got[0] != "UNCLASSIFIED" || got[3] != "TOP SECRET" {
		t.Errorf("levels %v", got)
	}
	if d := p.Default(); d.Action != ActionDrop || d.Level != "TOP SECRET" {
		t.Errorf("default %+v", d)
	}
	if r := p.Rule("zeek-conn", "no.such.field"); !r.Default {
		t.Errorf("unnamed field resolved to %+v, want the default", r)
	}
	// The "*" globs apply to profiles the policy does not name.
	if r := p.Rule("my-own", "src_mac"); r.Action != ActionPseudonymise || r.Kind != "mac" {
		t.Errorf("src_mac: %+v", r)
	}
	if r := p.Rule("my-own", "db_password"); r.Action != ActionDrop || r.Default {
		t.Errorf("db_password: %+v", r)
	}
	// Paths with "[]" are matched by their escaped globs.
	if r := p.Rule("eve-dns", "dns.answers[].rdata"); r.Default || r.LevelRank != 0 {
		t.Errorf("dns.answers[].rdata: %+v", r)
	}
}

func TestBuiltinYAMLIsACopy(t *testing.T) {
	a := BuiltinYAML()
	if len(a) == 0 {
		t.Fatal("empty")
	}
	a[0] ^= 0xff
	if bytes.Equal(a, BuiltinYAML()) {
		t.Fatal("BuiltinYAML returns the embedded slice")
	}
}
