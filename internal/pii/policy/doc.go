// Package policy parses and validates Heimdall's PII policy file and resolves
// the rule that applies to a (source profile, field path) pair.
//
// Format (YAML, unknown keys are rejected):
//
//	version: "2026-11-27.1"          # YYYY-MM-DD.N, recorded on every event
//	levels: [UNCLASSIFIED, CONFIDENTIAL, SECRET, TOP SECRET]   # lowest first
//	default: {level: TOP SECRET, action: drop}
//	profiles:
//	  zeek_dns:                      # a source profile name, or "*" for all
//	    fields:
//	      dns.query:  {level: CONFIDENTIAL, action: tokenise, kind: domain}
//	      src_ip:     {level: SECRET, action: pseudonymise, kind: ip}
//	      user.email: {level: SECRET, action: mask, mask: {keep_domain: true}}
//	      client.ip:  {level: SECRET, action: mask, mask: {ipv4_prefix: 24, ipv6_prefix: 48}}
//	      card:       {level: SECRET, action: mask, mask: {keep_last: 4}}
//	      dns.rcode:  {level: UNCLASSIFIED, action: keep}
//	      "http.*":   {level: SECRET, action: encrypt}
//	      msg:        {level: CONFIDENTIAL, action: scrub}   # free text
//
// Invariants enforced by Parse (every problem is reported, joined):
//
//   - the default rule must be the highest level with action drop, so a field
//     the policy does not name is treated as the most sensitive and never stored;
//   - keep is allowed only at the lowest level (the policy's way of declaring a
//     field non-personal) and only on an exact field path, never on a glob, so a
//     new field can never be kept by accident;
//   - pseudonymise and tokenise need a kind (e.g. "ip", "email"): the kind is
//     the domain-separation label, so src_ip and dst_ip of kind ip still join;
//   - mask needs exactly one mask family that fits, and only mask takes one.
//
// Resolution order of Rule: exact field in the named profile, then the named
// profile's globs (longest pattern first), then the same two steps in the "*"
// profile, then the default. Globs use path.Match syntax; "*" also matches dots.
package policy
