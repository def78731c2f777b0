// Package port parses transport-layer port numbers and canonicalises IP
// protocol names for use in observable values and network-traffic records.
//
// [Parse] accepts a decimal port 0..65535 after trimming white space. Leading
// zeros are accepted ("0080" is 80: unlike IPv4 octets, no common parser reads
// a port as octal), signs and other characters are not.
//
// [Protocol] maps a protocol name or number to one canonical, lower-case name.
// Canonical names are the IANA "Assigned Internet Protocol Numbers" keywords
// in lower case ("tcp", "udp", "icmp", "ipv6-icmp", "sctp", "gre", "esp", ...),
// which is also the form STIX 2.1 network-traffic "protocols" values use.
// Common aliases are accepted: "icmp6", "icmpv6" and "ipv6-icmp" all give
// "ipv6-icmp"; "ospf" gives "ospfigp". Numbers 0..255 with an entry in the
// built-in table give its name; other numbers in 0..255 are canonical as their
// decimal text ("253"), so every protocol number has exactly one canonical
// form. Names not in the table are rejected: a telemetry field holding an
// unknown protocol name is more likely garbage than a protocol.
//
// Canonicalisation is idempotent: Protocol(Protocol(x)) == Protocol(x).
//
// Error messages never include the input.
package port
