package rbac

// Lookup returns the value at a dot path in claims: "realm_access.roles"
// is claims["realm_access"]["roles"]. Keys that contain dots themselves
// (e.g. "https://example.com/roles") are found too: at each object the
// whole remaining path is tried as a key first, then its longest prefix
// (cut at a dot) that names an object, whose value is searched for the
// rest. There is no backtracking, so the cost is bounded by the path's
// length. An empty path finds nothing.
func Lookup(claims map[string]any, path string) (any, bool) {
	if path == "" {
		return nil, false
	}
	obj, rest := claims, path
	for {
		if v, ok := obj[rest]; ok {
			return v, true
		}
		next, cut := map[string]any(nil), -1
		for i := len(rest) - 1; i >= 0; i-- {
			if rest[i] != '.' {
				continue
			}
			if m, ok := obj[rest[:i]].(map[string]any); ok {
				next, cut = m, i
				break
			}
		}
		if next == nil {
			return nil, false
		}
		obj, rest = next, rest[cut+1:]
	}
}

// StringValues reads a claim value that is a string or a list of strings;
// empty strings and other values are left out.
func StringValues(v any) []string {
	switch v := v.(type) {
	case string:
		if v != "" {
			return []string{v}
		}
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok && s != "" {
				out = append(out, s)
			}
		}
		return out
	case []string:
		var out []string
		for _, s := range v {
			if s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
