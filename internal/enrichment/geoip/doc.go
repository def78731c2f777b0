// Package geoip is the enrichment provider of type "geoip": it looks IP
// addresses up in local MaxMind-format databases (GeoLite2/GeoIP2 City or
// Country, and ASN) with github.com/oschwald/maxminddb-golang/v2.
//
// Every configured database is consulted for every address and the answers
// are merged (the first database, in configuration order, that has a field
// wins). The provider sets these attributes when the data has them:
//
//	country             ISO 3166 code of the country (country.iso_code)
//	continent           continent code (continent.code)
//	city                English city name (city.names.en)
//	latitude, longitude location, at most 4 decimals
//	accuracy_radius_km  location accuracy radius in kilometres
//	registered_country  ISO code of the country the network is registered in
//	asn                 autonomous system number, decimal
//	as_org              autonomous system organisation
//	network             the matched prefix: the ASN database's when an ASN
//	                    was found, else the first answering database's
//
// When an ASN is found the result also holds the relation
// BELONGS_TO → autonomous-system "<number>" (with as_org as an edge
// attribute). An address no database knows is NotFound; a value that is not
// an IP address (or does not match its kind) is rejected. Result.Version
// names every database as "<database type>@<build epoch>", comma-separated
// in configuration order.
//
// Databases are read into memory (not memory-mapped), so replacing a file in
// place can never change the bytes under a live reader, and every load is
// checked with the reader's full verifier (search tree, data section and
// metadata; it is stricter than the format and wants a database_type and a
// non-empty description, as MaxMind's and the common third-party databases
// have) before it is used. A poller stats
// each file every ReloadEvery (size, modification time and identity) and
// swaps a changed database in atomically; lookups in flight keep the reader
// they started with. A file that fails to load — missing, truncated,
// corrupt — leaves the previous database serving and is logged (once per
// distinct state of the file). Reload forces a check.
package geoip
