package rbac

import (
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
)

const heimdallGrants = "heimdall-admin=admin+read+ingest+classify+decrypt;heimdall-analyst=read;heimdall-ingest=ingest;heimdall-peer=peer"

var levels = []string{"UNCLASSIFIED", "CONFIDENTIAL", "SECRET", "TOP SECRET"}

func heimdallConfig(t *testing.T) Config {
	t.Helper()
	g, err := ParseGrants(heimdallGrants)
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		RoleClaims:     []string{"groups", "realm_access.roles"},
		ClearanceClaim: "clearance",
		Grants:         g,
		Levels:         levels,
	}
}

// claims decodes JSON the way a verified token's claims are decoded.
func claims(t testing.TB, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("claims %s: %v", s, err)
	}
	return m
}

func TestPermissions(t *testing.T) {
	want := []Permission{"ingest", "read", "classify", "decrypt", "admin", "peer"}
	got := Permissions()
	if !slices.Equal(got, want) {
		t.Fatalf("Permissions() = %v, want %v", got, want)
	}
	got[0] = "root"
	if Permissions()[0] != Ingest {
		t.Error("Permissions() shares its slice")
	}
	for _, p := range want {
		if !p.Valid() {
			t.Errorf("%s not valid", p)
		}
		if q, err := ParsePermission(string(p)); err != nil || q != p {
			t.Errorf("ParsePermission(%s) = %v, %v", p, q, err)
		}
	}
	for _, s := range []string{"", "Read", "READ", " read", "root", "read+ingest"} {
		if Permission(s).Valid() {
			t.Errorf("%q valid", s)
		}
		if _, err := ParsePermission(s); err == nil || !strings.Contains(err.Error(), "known: ingest, read, classify, decrypt, admin, peer") {
			t.Errorf("ParsePermission(%q): %v", s, err)
		}
	}
}

func TestPermissionSet(t *testing.T) {
	var empty PermissionSet
	for _, p := range Permissions() {
		if empty.Has(p) {
			t.Errorf("empty set has %s", p)
		}
	}
	if empty.String() != "none" || empty.List() != nil {
		t.Errorf("empty: %q %v", empty, empty.List())
	}
	s := SetOf(Read, Admin, "bogus", Read)
	for _, tc := range []struct {
		p    Permission
		want bool
	}{{Read, true}, {Admin, true}, {Ingest, false}, {Decrypt, false}, {Peer, false}, {Classify, false}, {"bogus", false}, {"", false}} {
		if s.Has(tc.p) != tc.want {
			t.Errorf("Has(%q) = %v", tc.p, !tc.want)
		}
	}
	if got := s.String(); got != "read+admin" {
		t.Errorf("String = %q", got)
	}
	if got := s.With(Peer).With("bogus").List(); !slices.Equal(got, []Permission{Read, Admin, Peer}) {
		t.Errorf("List = %v", got)
	}
	if all := SetOf(Permissions()...); len(all.List()) != len(Permissions()) {
		t.Errorf("all = %v", all)
	}
}

func TestParseGrants(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want map[string][]Permission
		errs []string // each must appear in the error
	}{
		{name: "heimdall", in: heimdallGrants, want: map[string][]Permission{
			"heimdall-admin":   {Admin, Read, Ingest, Classify, Decrypt},
			"heimdall-analyst": {Read},
			"heimdall-ingest":  {Ingest},
			"heimdall-peer":    {Peer},
		}},
		{name: "empty", in: "", want: map[string][]Permission{}},
		{name: "blank", in: " ; ;", want: map[string][]Permission{}},
		{name: "spaces and trailing separator", in: " a = read + ingest ; b=peer; ", want: map[string][]Permission{
			"a": {Read, Ingest}, "b": {Peer},
		}},
		{name: "role with inner space", in: "Heimdall Admins=admin", want: map[string][]Permission{"Heimdall Admins": {Admin}}},
		{name: "duplicate permission collapses", in: "a=read+read", want: map[string][]Permission{"a": {Read}}},
		{name: "unknown permission", in: "a=read+raed", errs: []string{`grant 1 (role "a"): unknown permission "raed"`}},
		{name: "case matters", in: "a=Read", errs: []string{`unknown permission "Read"`}},
		{name: "no equals", in: "heimdall-admin", errs: []string{`grant 1 ("heimdall-admin"): want role=permission+permission`}},
		{name: "empty role", in: "=read", errs: []string{`grant 1 ("=read"): empty role`}},
		{name: "no permission", in: "a=", errs: []string{`grant 1 ("a="): empty permission`}},
		{name: "empty permission", in: "a=read++ingest", errs: []string{"empty permission"}},
		{name: "duplicate role", in: "a=read;b=peer;a=admin", errs: []string{`grant 3: role "a" already granted in grant 1`}},
		{name: "comma instead of plus", in: "a=read,ingest", errs: []string{`unknown permission "read,ingest"`}},
		{name: "every problem reported", in: "a=reed;b;=peer;c=admin+rut;a=read", errs: []string{
			`grant 1 (role "a"): unknown permission "reed"`,
			`grant 2 ("b"): want role=permission+permission`,
			`grant 3 ("=peer"): empty role`,
			`grant 4 (role "c"): unknown permission "rut"`,
			`grant 5: role "a" already granted in grant 1`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseGrants(tc.in)
			if len(tc.errs) > 0 {
				if err == nil {
					t.Fatalf("no error; grants %v", got)
				}
				for _, e := range tc.errs {
					if !strings.Contains(err.Error(), e) {
						t.Errorf("error %q lacks %q", err, e)
					}
				}
				if got != nil {
					t.Errorf("grants %v returned with an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			again, err := ParseGrants(FormatGrants(got))
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Errorf("round trip through %q: %v, %v", FormatGrants(got), again, err)
			}
		})
	}
}

func TestFormatGrants(t *testing.T) {
	got := FormatGrants(map[string][]Permission{"b": {Peer}, "a": {Read, Ingest}})
	if got != "a=read+ingest;b=peer" {
		t.Errorf("FormatGrants = %q", got)
	}
	if FormatGrants(nil) != "" {
		t.Error("FormatGrants(nil) not empty")
	}
}

func TestConfigValidate(t *testing.T) {
	if err := heimdallConfig(t).Validate(); err != nil {
		t.Fatalf("heimdall config: %v", err)
	}
	if err := (Config{}).Validate(); err != nil {
		t.Fatalf("empty config: %v", err)
	}
	err := Config{
		RoleClaims: []string{"groups", " "},
		Grants:     map[string][]Permission{"": {Read}, "a": nil, "b": {"root"}},
		Levels:     []string{"LOW", "", "HIGH", "low"},
	}.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"role claim 2: empty path",
		"grant for an empty role",
		`role "a": grants no permission`,
		`role "b": unknown permission "root"`,
		"level 2: empty name",
		`level "low" listed twice (positions 1 and 4)`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestLookup(t *testing.T) {
	c := claims(t, `{
		"groups": ["a", "b"],
		"realm_access": {"roles": ["r1"], "deep": {"er": {"x": "y"}}},
		"https://heimdall.example/roles": ["ns"],
		"https://heimdall.example": {"roles": "shadowed"},
		"ns.obj": {"roles": "dotted-object"},
		"ns": {"obj": {"roles": "plain-object"}, "other": "o"},
		"list": [{"roles": "in-list"}],
		"str": "s",
		"num": 3,
		"": {"": "empty-keys"}
	}`)
	for _, tc := range []struct {
		path string
		want any // nil: not found
	}{
		{"groups", []any{"a", "b"}},
		{"realm_access.roles", []any{"r1"}},
		{"realm_access.deep.er.x", "y"},
		{"realm_access.deep.er", map[string]any{"x": "y"}},
		// A key with dots wins over the path through objects.
		{"https://heimdall.example/roles", []any{"ns"}},
		// The longest prefix that names an object is descended into.
		{"ns.obj.roles", "dotted-object"},
		{"ns.other", "o"},
		{"num", 3.0},
		{".", "empty-keys"},
		{"", nil},
		{"missing", nil},
		{"groups.0", nil},
		{"list.roles", nil},
		{"list.0.roles", nil},
		{"str.x", nil},
		{"realm_access.missing", nil},
		{"realm_access.roles.x", nil},
		{"realm_access..roles", nil},
		{"Groups", nil},
	} {
		v, ok := Lookup(c, tc.path)
		if ok != (tc.want != nil) || !reflect.DeepEqual(v, tc.want) {
			t.Errorf("Lookup(%q) = %v, %v; want %v", tc.path, v, ok, tc.want)
		}
	}
	if _, ok := Lookup(nil, "groups"); ok {
		t.Error("found in nil claims")
	}
}

func TestResolve(t *testing.T) {
	cfg := heimdallConfig(t)
	all := SetOf(Admin, Read, Ingest, Classify, Decrypt)
	for _, tc := range []struct {
		name      string
		cfg       *Config
		claims    string
		roles     []string
		perms     PermissionSet
		clearance string
		rank      int
	}{
		// The development realm's callers (deploy/keycloak/heimdall-realm.json).
		{name: "heimdall-cli", claims: `{"sub":"heimdall-cli","groups":["heimdall-admin","heimdall-ingest"],"clearance":"TOP SECRET"}`,
			roles: []string{"heimdall-admin", "heimdall-ingest"}, perms: all, clearance: "TOP SECRET", rank: 3},
		{name: "peer", claims: `{"groups":["heimdall-peer"],"clearance":"TOP SECRET"}`,
			roles: []string{"heimdall-peer"}, perms: SetOf(Peer), clearance: "TOP SECRET", rank: 3},
		{name: "bob analyst", claims: `{"groups":["heimdall-analyst"],"clearance":"CONFIDENTIAL"}`,
			roles: []string{"heimdall-analyst"}, perms: SetOf(Read), clearance: "CONFIDENTIAL", rank: 1},
		{name: "carol ingest", claims: `{"groups":["heimdall-ingest"],"clearance":"UNCLASSIFIED"}`,
			roles: []string{"heimdall-ingest"}, perms: SetOf(Ingest), clearance: "UNCLASSIFIED", rank: 0},
		{name: "noperm", claims: `{"sub":"heimdall-noperm","client_id":"heimdall-noperm"}`, rank: -1},

		{name: "nil claims", claims: `null`, rank: -1},
		{name: "role claim as a string", claims: `{"groups":"heimdall-analyst"}`, roles: []string{"heimdall-analyst"}, perms: SetOf(Read), rank: -1},
		{name: "nested role claim", claims: `{"realm_access":{"roles":["heimdall-peer"]}}`, roles: []string{"heimdall-peer"}, perms: SetOf(Peer), rank: -1},
		{name: "union of role claims, deduplicated", claims: `{"groups":["heimdall-analyst","heimdall-analyst"],"realm_access":{"roles":["heimdall-ingest","heimdall-analyst"]}}`,
			roles: []string{"heimdall-analyst", "heimdall-ingest"}, perms: SetOf(Read, Ingest), rank: -1},
		{name: "unknown roles grant nothing", claims: `{"groups":["heimdall-root","HEIMDALL-ADMIN","heimdall-admin "]}`,
			roles: []string{"heimdall-root", "HEIMDALL-ADMIN", "heimdall-admin "}, rank: -1},
		{name: "other role values ignored", claims: `{"groups":[1,true,null,{"a":"heimdall-admin"},["heimdall-admin"],"","heimdall-analyst"],"realm_access":{"roles":{"heimdall-admin":true}}}`,
			roles: []string{"heimdall-analyst"}, perms: SetOf(Read), rank: -1},
		{name: "role claim of wrong type", claims: `{"groups":{"heimdall-admin":"heimdall-admin"},"realm_access":"heimdall-admin"}`, rank: -1},
		{name: "clearance case-insensitive", claims: `{"clearance":" secret "}`, clearance: "SECRET", rank: 2},
		{name: "clearance unknown", claims: `{"clearance":"COSMIC"}`, rank: -1},
		{name: "clearance empty", claims: `{"clearance":""}`, rank: -1},
		{name: "clearance number", claims: `{"clearance":3}`, rank: -1},
		{name: "clearance list of one", claims: `{"clearance":["SECRET"]}`, clearance: "SECRET", rank: 2},
		{name: "clearance list of two", claims: `{"clearance":["SECRET","TOP SECRET"]}`, rank: -1},
		{name: "clearance object", claims: `{"clearance":{"level":"SECRET"}}`, rank: -1},
		{name: "no clearance claim configured", cfg: &Config{RoleClaims: cfg.RoleClaims, Grants: cfg.Grants, Levels: levels},
			claims: `{"clearance":"TOP SECRET"}`, rank: -1},
		{name: "nested clearance claim", cfg: &Config{ClearanceClaim: "attrs.clearance", Levels: levels},
			claims: `{"attrs":{"clearance":"CONFIDENTIAL"}}`, clearance: "CONFIDENTIAL", rank: 1},
		{name: "no levels configured", cfg: &Config{ClearanceClaim: "clearance"}, claims: `{"clearance":"TOP SECRET"}`, rank: -1},
		{name: "no role claims configured", cfg: &Config{Grants: cfg.Grants}, claims: `{"groups":["heimdall-admin"]}`, rank: -1},
		{name: "no grants configured", cfg: &Config{RoleClaims: []string{"groups"}}, claims: `{"groups":["heimdall-admin"]}`,
			roles: []string{"heimdall-admin"}, rank: -1},
		{name: "invalid permission in grants ignored", cfg: &Config{RoleClaims: []string{"groups"}, Grants: map[string][]Permission{"g": {"root", Read}}},
			claims: `{"groups":["g"]}`, roles: []string{"g"}, perms: SetOf(Read), rank: -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := cfg
			if tc.cfg != nil {
				c = *tc.cfg
			}
			s := Resolve(c, claims(t, tc.claims))
			if !slices.Equal(s.Roles, tc.roles) {
				t.Errorf("roles = %q, want %q", s.Roles, tc.roles)
			}
			if s.Permissions != tc.perms {
				t.Errorf("permissions = %s, want %s", s.Permissions, tc.perms)
			}
			for _, p := range Permissions() {
				if s.Can(p) != tc.perms.Has(p) {
					t.Errorf("Can(%s) = %v", p, s.Can(p))
				}
			}
			if s.Clearance != tc.clearance || s.ClearanceRank != tc.rank {
				t.Errorf("clearance = %q (%d), want %q (%d)", s.Clearance, s.ClearanceRank, tc.clearance, tc.rank)
			}
		})
	}
}

func TestMaySee(t *testing.T) {
	cfg := heimdallConfig(t)
	data := []string{"UNCLASSIFIED", "CONFIDENTIAL", "SECRET", "TOP SECRET"}
	for _, tc := range []struct {
		clearance string
		sees      []string // of data, plus "" and "unknown" when it sees the highest
	}{
		{"UNCLASSIFIED", []string{"UNCLASSIFIED"}},
		{"CONFIDENTIAL", []string{"UNCLASSIFIED", "CONFIDENTIAL"}},
		{"SECRET", []string{"UNCLASSIFIED", "CONFIDENTIAL", "SECRET"}},
		{"TOP SECRET", []string{"UNCLASSIFIED", "CONFIDENTIAL", "SECRET", "TOP SECRET", "", "COSMIC", "  "}},
		{"", nil},
		{"COSMIC", nil},
	} {
		t.Run(tc.clearance, func(t *testing.T) {
			s := Resolve(cfg, map[string]any{"clearance": tc.clearance})
			for _, level := range append(slices.Clone(data), "", "COSMIC", "  ", "secret", " Confidential ") {
				want := slices.Contains(tc.sees, level) ||
					slices.ContainsFunc(tc.sees, func(l string) bool { return l != "" && strings.EqualFold(l, strings.TrimSpace(level)) })
				if got := s.MaySee(level); got != want {
					t.Errorf("clearance %q MaySee(%q) = %v, want %v", tc.clearance, level, got, want)
				}
			}
		})
	}
	var zero Subject
	for _, level := range append(data, "") {
		if zero.MaySee(level) {
			t.Errorf("zero Subject sees %q", level)
		}
	}
	for _, p := range Permissions() {
		if zero.Can(p) {
			t.Errorf("zero Subject can %s", p)
		}
	}
	noLevels := Resolve(Config{ClearanceClaim: "clearance"}, map[string]any{"clearance": "TOP SECRET"})
	if noLevels.MaySee("") || noLevels.MaySee("TOP SECRET") {
		t.Error("a subject sees data with no levels configured")
	}
}

// FuzzResolve resolves claim paths in arbitrary JSON: it never panics,
// finds only what is there, and the subject it builds is consistent.
func FuzzResolve(f *testing.F) {
	for _, seed := range []struct{ json, path string }{
		{`{"groups":["heimdall-admin","heimdall-analyst"],"clearance":"SECRET"}`, "groups"},
		{`{"realm_access":{"roles":["heimdall-peer"]}}`, "realm_access.roles"},
		{`{"a.b":{"c":"heimdall-ingest"},"a":{"b":{"c":"heimdall-admin"}}}`, "a.b.c"},
		{`{"":{"":{"":"heimdall-admin"}}}`, ".."},
		{`{"x":[{"y":"heimdall-admin"}],"clearance":["TOP SECRET"]}`, "x.y"},
		{`{"a":{"b":1}}`, "a.b."},
		{`[1,2,3]`, "0"},
		{`"just a string"`, ""},
		{`{"groups":"heimdall-admin","clearance":{"x":"y"}}`, "groups"},
	} {
		f.Add([]byte(seed.json), seed.path)
	}
	grants, err := ParseGrants(heimdallGrants)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte, path string) {
		var c map[string]any
		if json.Unmarshal(data, &c) != nil {
			return
		}
		cfg := Config{RoleClaims: []string{path, "groups"}, ClearanceClaim: path, Grants: grants, Levels: levels}
		s := Resolve(cfg, c)
		if !reflect.DeepEqual(Resolve(cfg, c), s) {
			t.Fatal("Resolve is not deterministic")
		}

		// Lookup finds only values that are in the claims, and a hit on
		// the whole path as a key comes first.
		v, ok := Lookup(c, path)
		if !ok && v != nil {
			t.Fatalf("Lookup(%q) = %v without ok", path, v)
		}
		if path == "" && ok {
			t.Fatalf("Lookup(\"\") = %v", v)
		}
		if w, exact := c[path]; exact && path != "" && (!ok || !reflect.DeepEqual(v, w)) {
			t.Fatalf("Lookup(%q) = %v, %v; the key itself holds %v", path, v, ok, w)
		}

		// Roles are distinct non-empty strings that occur in the claims.
		var strs []string
		collectStrings(c, &strs)
		for i, r := range s.Roles {
			if r == "" || slices.Contains(s.Roles[:i], r) || !slices.Contains(strs, r) {
				t.Fatalf("role %q (roles %q) is empty, repeated or not in the claims", r, s.Roles)
			}
		}
		// Permissions are exactly the grants of the roles.
		var want PermissionSet
		for _, r := range s.Roles {
			want |= SetOf(grants[r]...)
		}
		if s.Permissions != want {
			t.Fatalf("permissions %s, grants of %q are %s", s.Permissions, s.Roles, want)
		}
		// The clearance is a configured level with its rank, or none.
		if s.ClearanceRank < -1 || s.ClearanceRank >= len(levels) {
			t.Fatalf("rank %d", s.ClearanceRank)
		}
		if (s.ClearanceRank == -1) != (s.Clearance == "") || (s.ClearanceRank >= 0 && levels[s.ClearanceRank] != s.Clearance) {
			t.Fatalf("clearance %q with rank %d", s.Clearance, s.ClearanceRank)
		}
		for i, l := range levels {
			if s.MaySee(l) != (s.ClearanceRank >= i) {
				t.Fatalf("rank %d MaySee(%q) = %v", s.ClearanceRank, l, s.MaySee(l))
			}
		}
		if rank(levels, path) < 0 && s.MaySee(path) != s.MaySee("TOP SECRET") {
			t.Fatalf("rank %d: unknown level %q is not treated as the highest", s.ClearanceRank, path)
		}

		// A value placed at the path's segments, one object per segment,
		// is found there.
		segs := strings.Split(path, ".")
		nested := map[string]any{segs[len(segs)-1]: "heimdall-peer"}
		for i := len(segs) - 2; i >= 0; i-- {
			nested = map[string]any{segs[i]: nested}
		}
		if got, ok := Lookup(nested, path); path != "" && (!ok || got != "heimdall-peer") {
			t.Fatalf("Lookup(%q) in %v = %v, %v", path, nested, got, ok)
		}
		if path != "" {
			if p := Resolve(cfg, nested); !p.Can(Peer) || p.Can(Admin) {
				t.Fatalf("nested %q: permissions %s", path, p.Permissions)
			}
		}
	})
}

// collectStrings appends every string in v (keys excluded).
func collectStrings(v any, out *[]string) {
	switch v := v.(type) {
	case string:
		*out = append(*out, v)
	case []any:
		for _, e := range v {
			collectStrings(e, out)
		}
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(v)) {
			collectStrings(v[k], out)
		}
	}
}
