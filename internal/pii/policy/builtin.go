package policy

import _ "embed"

//go:embed builtin.yaml
var builtinYAML []byte

// BuiltinYAML returns the text of the built-in policy (a copy): the
// starting point of an operator's own policy file.
func BuiltinYAML() []byte { return append([]byte(nil), builtinYAML...) }

// Builtin parses the built-in policy: network observables kept, free text
// scrubbed, user accounts and e-mail addresses encrypted, and every field of
// the built-in ingest profiles named (see the header of builtin.yaml).
func Builtin() (*Policy, error) { return Parse(builtinYAML) }
