package ingest

import (
	"slices"
	"sort"
	"testing"

	"github.com/heimdallhub/heimdall/internal/pii/policy"
)

func TestFieldPaths(t *testing.T) {
	p, err := ParseProfile([]byte(`name: t
version: 1
time_fields: [ts, when]
observables:
  - {name: src, kind: ip, fields: [src_ip, "id.orig_h"]}
  - {name: dst, kind: ip, fields: [dst_ip, "id.orig_h"]}
  - {name: answer, kind: ip, fields: ["dns.answers[].rdata"]}
  - {name: url, kind: url, template: "http://{host}{uri}"}
  - name: file
    kind: file
    hashes:
      SHA-256: [sha256, resp_sha256]
      MD5: [md5]
  - {name: who, kind: user-account, fields: [user, when]}
relations:
  - from: src
    type: CONNECTED_TO
    to: dst
    attributes:
      dst_port: [dst_port, "id.resp_p"]
      msg: [msg]
  - {from: file, type: SEEN_ON, to: src, attributes: {path: [path, dst_port]}}
  - {from: who, type: USED, to: src}
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"dns.answers[].rdata", "dst_ip", "dst_port", "id.orig_h", "id.resp_p", "md5", "msg", "path",
		"resp_sha256", "sha256", "src_ip", "url", "user", "when"}
	// "when" is a time field, but also read as a value: it is listed for
	// that use; "ts" is only a time field. The template's own fields
	// (host, uri) are not listed: the rule is the observable's ("url").
	got := p.FieldPaths()
	if !slices.Equal(got, want) {
		t.Fatalf("FieldPaths:\n got %q\nwant %q", got, want)
	}
	if !sort.StringsAreSorted(got) {
		t.Fatal("not sorted")
	}
}

// TestBuiltinPolicyCoversProfiles: the built-in PII policy names, in the
// profile's own section, every field every built-in profile reads (a field
// it does not name is dropped, so its data would be lost), and never keeps
// a personal observable.
func TestBuiltinPolicyCoversProfiles(t *testing.T) {
	pol, err := policy.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	profiles, err := BuiltinProfiles()
	if err != nil {
		t.Fatal(err)
	}
	personal := map[string]bool{"email-addr": true, "user-account": true}
	for name, p := range profiles {
		paths := p.FieldPaths()
		if len(paths) == 0 {
			t.Errorf("profile %s: no field paths", name)
		}
		for _, f := range paths {
			r := pol.Rule(name, f)
			switch {
			case r.Default:
				t.Errorf("profile %s: field %q is not named by the built-in policy (it would be dropped)", name, f)
			case r.Profile != name:
				t.Errorf("profile %s: field %q is only covered by %q of profile %q; name it in the profile's own section", name, f, r.Pattern, r.Profile)
			}
		}
		for _, o := range p.Observables {
			if !personal[o.Kind] {
				continue
			}
			one := &Profile{Observables: []ObservableOf{o}}
			for _, f := range one.FieldPaths() {
				r := pol.Rule(name, f)
				if r.Action == policy.ActionKeep || r.Action == policy.ActionScrub || r.Action == policy.ActionDrop {
					t.Errorf("profile %s: personal observable %s (%s) field %q has action %s", name, o.Name, o.Kind, f, r.Action)
				}
			}
		}
	}
}
