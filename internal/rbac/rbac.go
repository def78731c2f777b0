package rbac

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Permission is something a caller may be allowed to do.
type Permission string

// The permissions. None implies another: an admin that should also read
// must be granted read.
const (
	// Ingest submits events.
	Ingest Permission = "ingest"
	// Read queries entities and events.
	Read Permission = "read"
	// Classify sets or changes the classification level of data.
	Classify Permission = "classify"
	// Decrypt reveals pseudonymised personal data.
	Decrypt Permission = "decrypt"
	// Admin manages the installation (keys, configuration).
	Admin Permission = "admin"
	// Peer synchronises with another Heimdall site.
	Peer Permission = "peer"
)

var permissions = []Permission{Ingest, Read, Classify, Decrypt, Admin, Peer}

// Permissions returns every permission, in a fixed order.
func Permissions() []Permission { return slices.Clone(permissions) }

// Valid reports whether p is one of Permissions.
func (p Permission) Valid() bool { return p.bit() != 0 }

func (p Permission) bit() PermissionSet {
	for i, q := range permissions {
		if p == q {
			return 1 << i
		}
	}
	return 0
}

// ParsePermission returns the permission named s (exactly, e.g. "read").
func ParsePermission(s string) (Permission, error) {
	if p := Permission(s); p.Valid() {
		return p, nil
	}
	return "", fmt.Errorf("unknown permission %q (known: %s)", s, knownPermissions())
}

func knownPermissions() string {
	names := make([]string, len(permissions))
	for i, p := range permissions {
		names[i] = string(p)
	}
	return strings.Join(names, ", ")
}

// PermissionSet is a set of permissions. The zero value is empty.
type PermissionSet uint8

// SetOf returns the set of ps; invalid permissions are left out.
func SetOf(ps ...Permission) PermissionSet {
	var s PermissionSet
	for _, p := range ps {
		s |= p.bit()
	}
	return s
}

// Has reports whether p is in s.
func (s PermissionSet) Has(p Permission) bool {
	b := p.bit()
	return b != 0 && s&b != 0
}

// With returns s plus p (s itself if p is not valid).
func (s PermissionSet) With(p Permission) PermissionSet { return s | p.bit() }

// List returns the permissions of s in the order of Permissions.
func (s PermissionSet) List() []Permission {
	var out []Permission
	for _, p := range permissions {
		if s.Has(p) {
			out = append(out, p)
		}
	}
	return out
}

// String joins the permissions of s with "+" ("none" when empty).
func (s PermissionSet) String() string {
	if s == 0 {
		return "none"
	}
	var b strings.Builder
	for i, p := range s.List() {
		if i > 0 {
			b.WriteByte('+')
		}
		b.WriteString(string(p))
	}
	return b.String()
}

// Config maps claims to roles, permissions and a clearance.
type Config struct {
	// RoleClaims are dot paths into the claims whose values are role
	// names, e.g. "groups", "roles", "realm_access.roles".
	RoleClaims []string
	// ClearanceClaim is the dot path of the clearance claim, e.g.
	// "clearance". Empty: nobody has a clearance.
	ClearanceClaim string
	// Grants maps a role to its permissions. Roles are matched exactly
	// (case-sensitively); roles not listed grant nothing.
	Grants map[string][]Permission
	// Levels are the clearance levels, lowest first, e.g. UNCLASSIFIED,
	// CONFIDENTIAL, SECRET, TOP SECRET. Level names match case-insensitively.
	Levels []string
}

// Validate reports every problem of c: empty claim paths, grants of no or
// unknown permissions, empty or duplicate level names.
func (c Config) Validate() error {
	var errs []error
	for i, p := range c.RoleClaims {
		if strings.TrimSpace(p) == "" {
			errs = append(errs, fmt.Errorf("role claim %d: empty path", i+1))
		}
	}
	roles := make([]string, 0, len(c.Grants))
	for r := range c.Grants {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	for _, r := range roles {
		if strings.TrimSpace(r) == "" {
			errs = append(errs, errors.New("grant for an empty role"))
		}
		if len(c.Grants[r]) == 0 {
			errs = append(errs, fmt.Errorf("role %q: grants no permission", r))
		}
		for _, p := range c.Grants[r] {
			if !p.Valid() {
				errs = append(errs, fmt.Errorf("role %q: unknown permission %q (known: %s)", r, p, knownPermissions()))
			}
		}
	}
	for i, l := range c.Levels {
		if strings.TrimSpace(l) == "" {
			errs = append(errs, fmt.Errorf("level %d: empty name", i+1))
			continue
		}
		if j := rank(c.Levels[:i], l); j >= 0 {
			errs = append(errs, fmt.Errorf("level %q listed twice (positions %d and %d)", l, j+1, i+1))
		}
	}
	return errors.Join(errs...)
}

// ParseGrants reads role grants written as
//
//	role=permission+permission;role=permission
//
// e.g. "heimdall-admin=admin+read+ingest;heimdall-analyst=read". Spaces
// around names are ignored, and so are empty entries (a trailing ";").
// Role names cannot contain "=" or ";". It reports every problem at once:
// an entry without "=", an empty role, a role listed twice, an empty or
// unknown permission. On error it returns no grants. An empty s grants
// nothing.
func ParseGrants(s string) (map[string][]Permission, error) {
	out := map[string][]Permission{}
	seen := map[string]int{}
	var errs []error
	for i, entry := range strings.Split(s, ";") {
		n := i + 1
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		role, list, ok := strings.Cut(entry, "=")
		role = strings.TrimSpace(role)
		if !ok {
			errs = append(errs, fmt.Errorf("grant %d (%q): want role=permission+permission", n, entry))
			continue
		}
		if role == "" {
			errs = append(errs, fmt.Errorf("grant %d (%q): empty role", n, entry))
		} else if first, dup := seen[role]; dup {
			errs = append(errs, fmt.Errorf("grant %d: role %q already granted in grant %d", n, role, first))
		} else {
			seen[role] = n
		}
		var perms []Permission
		for _, name := range strings.Split(list, "+") {
			name = strings.TrimSpace(name)
			if name == "" {
				errs = append(errs, fmt.Errorf("grant %d (%q): empty permission", n, entry))
				continue
			}
			p, err := ParsePermission(name)
			if err != nil {
				errs = append(errs, fmt.Errorf("grant %d (role %q): %w", n, role, err))
				continue
			}
			if !slices.Contains(perms, p) {
				perms = append(perms, p)
			}
		}
		if role != "" && seen[role] == n {
			out[role] = perms
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// FormatGrants writes grants in the form ParseGrants reads, roles sorted.
func FormatGrants(grants map[string][]Permission) string {
	roles := make([]string, 0, len(grants))
	for r := range grants {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	var b strings.Builder
	for i, r := range roles {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(r)
		b.WriteByte('=')
		for j, p := range grants[r] {
			if j > 0 {
				b.WriteByte('+')
			}
			b.WriteString(string(p))
		}
	}
	return b.String()
}

// Subject is what a caller may do and see.
type Subject struct {
	// Roles are the role names found in the role claims, each once, in
	// the order found (including roles that grant nothing).
	Roles []string
	// Permissions are the union of the grants of Roles.
	Permissions PermissionSet
	// Clearance is the caller's level as written in Config.Levels, or
	// empty when the clearance claim is missing, not a single string or
	// names no configured level.
	Clearance string
	// ClearanceRank is the index of Clearance in Config.Levels (0 is the
	// lowest), or -1 when Clearance is empty: such a caller sees nothing
	// that has a level (see MaySee).
	ClearanceRank int

	levels []string
}

// Can reports whether the subject holds permission p.
func (s Subject) Can(p Permission) bool { return s.Permissions.Has(p) }

// MaySee reports whether the subject is cleared for data of level. An
// empty or unknown level counts as the highest level, so only subjects
// cleared for the highest level see it. A subject without clearance
// (ClearanceRank -1), or one not made by Resolve, or with no configured
// levels, sees nothing.
func (s Subject) MaySee(level string) bool {
	if s.ClearanceRank < 0 || len(s.levels) == 0 {
		return false
	}
	r := rank(s.levels, level)
	if r < 0 {
		r = len(s.levels) - 1
	}
	return r <= s.ClearanceRank
}

// rank returns the index of the level named name (case-insensitive, spaces
// around ignored) or -1.
func rank(levels []string, name string) int {
	name = strings.TrimSpace(name)
	if name == "" {
		return -1
	}
	for i, l := range levels {
		if strings.EqualFold(strings.TrimSpace(l), name) {
			return i
		}
	}
	return -1
}

// Resolve computes what the caller with claims may do and see under cfg.
// Claim values may be a string or a list of strings, reached through
// nested objects along the path; anything else is ignored. Nothing is
// granted by default.
func Resolve(cfg Config, claims map[string]any) Subject {
	s := Subject{ClearanceRank: -1, levels: cfg.Levels}
	for _, path := range cfg.RoleClaims {
		v, ok := Lookup(claims, path)
		if !ok {
			continue
		}
		for _, role := range StringValues(v) {
			if !slices.Contains(s.Roles, role) {
				s.Roles = append(s.Roles, role)
			}
		}
	}
	for _, role := range s.Roles {
		for _, p := range cfg.Grants[role] {
			s.Permissions = s.Permissions.With(p)
		}
	}
	if cfg.ClearanceClaim != "" {
		if v, ok := Lookup(claims, cfg.ClearanceClaim); ok {
			if vals := StringValues(v); len(vals) == 1 {
				if r := rank(cfg.Levels, vals[0]); r >= 0 {
					s.Clearance, s.ClearanceRank = cfg.Levels[r], r
				}
			}
		}
	}
	return s
}
