package policy

import (
	"errors"
	"strings"
	"testing"
)

const sample = `
version: "2026-11-27.1"
levels: [UNCLASSIFIED, CONFIDENTIAL, SECRET, TOP SECRET]
default: {level: TOP SECRET, action: drop}
profiles:
  zeek_dns:
    fields:
      dns.query: {level: CONFIDENTIAL, action: tokenise, kind: domain}
      dns.rcode: {level: UNCLASSIFIED, action: keep}
      "dns.*":   {level: SECRET, action: encrypt}
      "dns.a*":  {level: SECRET, action: pseudonymise, kind: ip}
  "*":
    fields:
      src_ip:     {level: SECRET, action: pseudonymise, kind: ip}
      dst_ip:     {level: SECRET, action: pseudonymise, kind: ip}
      user.email: {level: SECRET, action: mask, mask: {keep_domain: true}}
      client.ip:  {level: SECRET, action: mask, mask: {ipv4_prefix: 24, ipv6_prefix: 48}}
      card:       {level: SECRET, action: mask, mask: {keep_last: 4}}
      "dns.*":    {level: CONFIDENTIAL, action: drop}
`

func mustParse(t *testing.T, s string) *Policy {
	t.Helper()
	p, err := Parse([]byte(s))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return p
}

func TestParseAndResolve(t *testing.T) {
	p := mustParse(t, sample)
	if p.Version() != "2026-11-27.1" {
		t.Fatalf("version %q", p.Version())
	}
	cases := []struct {
		profile, field string
		action         Action
		level          string
		pattern        string
	}{
		{"zeek_dns", "dns.query", ActionTokenise, "CONFIDENTIAL", "dns.query"}, // exact
		{"zeek_dns", "dns.answers", ActionPseudonymise, "SECRET", "dns.a*"},    // longest glob first
		{"zeek_dns", "dns.qtype", ActionEncrypt, "SECRET", "dns.*"},            // profile glob
		{"zeek_dns", "src_ip", ActionPseudonymise, "SECRET", "src_ip"},         // "*" profile
		{"suricata", "dns.qtype", ActionDrop, "CONFIDENTIAL", "dns.*"},         // "*" glob
		{"suricata", "user.email", ActionMask, "SECRET", "user.email"},         // "*" exact
		{"zeek_dns", "unknown.field", ActionDrop, "TOP SECRET", ""},            // default
		{"nope", "nope", ActionDrop, "TOP SECRET", ""},                         // default
	}
	for _, c := range cases {
		r := p.Rule(c.profile, c.field)
		if r.Action != c.action || r.Level != c.level || r.Pattern != c.pattern {
			t.Errorf("Rule(%s,%s) = %s/%s/%q, want %s/%s/%q", c.profile, c.field, r.Action, r.Level, r.Pattern, c.action, c.level, c.pattern)
		}
		if r.PolicyVersion != "2026-11-27.1" {
			t.Errorf("Rule(%s,%s) has no policy version", c.profile, c.field)
		}
	}
	d := p.Rule("x", "y")
	if !d.Default || d.LevelRank != 3 {
		t.Fatalf("unknown field must get the default, highest rank: %+v", d)
	}
	if m := p.Rule("a", "client.ip").Mask; m.IPv4Prefix != 24 || m.IPv6Prefix != 48 {
		t.Fatalf("mask not parsed: %+v", m)
	}
}

func TestUnknownFieldIsHighestAndDrop(t *testing.T) {
	p := mustParse(t, sample)
	r := p.Rule("zeek_dns", "http.user_agent")
	if r.Action != ActionDrop || r.Level != "TOP SECRET" || !r.Default {
		t.Fatalf("got %+v", r)
	}
}

func TestValidationReportsAllProblems(t *testing.T) {
	bad := `
version: "yesterday"
levels: [LOW, HIGH, LOW]
default: {level: LOW, action: keep}
profiles:
  p:
    fields:
      a: {level: HIGH, action: keep}
      "b.*": {level: LOW, action: keep}
      c: {level: MEDIUM, action: explode}
      d: {level: HIGH, action: pseudonymise}
      e: {level: HIGH, action: mask}
      f: {level: HIGH, action: mask, mask: {keep_domain: true, keep_last: 3}}
      g: {level: HIGH, action: encrypt, kind: ip}
      h: {level: HIGH, action: drop, mask: {keep_last: 2}}
      "[": {level: HIGH, action: drop}
      i: {level: HIGH, action: mask, mask: {ipv4_prefix: 32}}
`
	_, err := Parse([]byte(bad))
	if err == nil {
		t.Fatal("expected errors")
	}
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("not ErrInvalid: %v", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"version", "duplicate", "default.level", "default.action must be drop",
		`fields[\"a\"]: keep is only allowed at the lowest level`,
		`fields[\"b.*\"]: keep must name an exact field path`,
		`fields[\"c\"]: level \"MEDIUM\"`, `action \"explode\" is unknown`,
		`fields[\"d\"]: pseudonymise needs a kind`,
		`fields[\"e\"]: mask action needs a mask`,
		`fields[\"f\"]: mask: set exactly one`,
		`fields[\"g\"]: kind is only meaningful`,
		`fields[\"h\"]: mask is only allowed`,
		`fields[\"[\"]: bad glob`,
		`fields[\"i\"]: mask: ipv4_prefix`,
	} {
		want = strings.ReplaceAll(want, `\"`, `"`)
		if !strings.Contains(msg, want) {
			t.Errorf("missing problem %q in:\n%s", want, msg)
		}
	}
	if n := len(strings.Split(msg, "\n")); n < 15 {
		t.Errorf("expected all problems joined, got %d lines", n)
	}
}

func TestParseRejects(t *testing.T) {
	for name, s := range map[string]string{
		"empty":         "",
		"unknown key":   strings.Replace(sample, "levels:", "levelz: []\nlevels:", 1),
		"two documents": sample + "\n---\nversion: x\n",
		"no profiles":   "version: \"2026-11-27.1\"\nlevels: [A]\ndefault: {level: A, action: drop}\n",
		"no default":    strings.Replace(sample, "default: {level: TOP SECRET, action: drop}", "", 1),
	} {
		if _, err := Parse([]byte(s)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(sample))
	f.Add([]byte("version: \"2026-11-27.1\"\nlevels: [A]\ndefault: {level: A, action: drop}\nprofiles: {\"*\": {fields: {x: {level: A, action: keep}}}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			return
		}
		// A valid policy always resolves unknown fields to drop at the highest level.
		r := p.Rule("\x00no-such-profile", "\x00no-such-field")
		if r.Action != ActionDrop || r.LevelRank != len(p.Levels())-1 {
			t.Fatalf("default rule broken: %+v", r)
		}
		for _, lv := range []string{"a", "src_ip", "dns.query"} {
			r := p.Rule("*", lv)
			if r.Action == ActionKeep && r.LevelRank != 0 {
				t.Fatalf("keep above lowest level")
			}
		}
	})
}

// "[]" in a field path walks array elements: it is literal, so keep may
// name such a path, and globs may contain it.
func TestArrayPathsAreLiteral(t *testing.T) {
	p, err := Parse([]byte(`
version: "2026-11-28.1"
levels: [LOW, HIGH]
default: {level: HIGH, action: drop}
profiles:
  eve-dns:
    fields:
      dns.answers[].rdata: {level: LOW, action: keep}
      "dns.queries[].*":   {level: HIGH, action: scrub}
`))
	if err != nil {
		t.Fatal(err)
	}
	if r := p.Rule("eve-dns", "dns.answers[].rdata"); r.Action != ActionKeep {
		t.Fatalf("array path: %+v", r)
	}
	if r := p.Rule("eve-dns", "dns.answers[0].rdata"); !r.Default {
		t.Fatalf("[] must not act as a character class: %+v", r)
	}
	if r := p.Rule("eve-dns", "dns.queries[].rrname"); r.Action != ActionScrub {
		t.Fatalf("glob with []: %+v", r)
	}
}
