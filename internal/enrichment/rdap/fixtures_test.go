package rdap

// Answers shaped like those of the regional registries and a gTLD registry
// (RFC 9083, with the cidr0 extension), trimmed to what matters plus the
// usual noise: links, notices, remarks, nested entities and contacts' vCards.

const ipNetworkJSON = `{
  "rdapConformance": ["nro_rdap_profile_0", "rdap_level_0", "cidr0"],
  "notices": [{"title": "Terms of Service", "description": ["By using the RDAP service, you agree to the terms."],
    "links": [{"value": "https://rdap.example/ip/192.0.2.1", "rel": "terms-of-service", "type": "text/html", "href": "https://www.example/tos"}]}],
  "objectClassName": "ip network",
  "handle": "NET-192-0-2-0-1",
  "startAddress": "192.0.2.0",
  "endAddress": "192.0.2.255",
  "ipVersion": "v4",
  "name": "EXAMPLE-NET",
  "type": "DIRECT ALLOCATION",
  "country": "nl",
  "parentHandle": "NET-192-0-0-0-0",
  "cidr0_cidrs": [{"v4prefix": "192.0.2.0", "length": 24}, {"v4prefix": "not-an-address", "length": 24}],
  "status": ["active", "active"],
  "port43": "whois.example",
  "events": [
    {"eventAction": "last changed", "eventDate": "2023-06-01T12:30:00+02:00"},
    {"eventAction": "registration", "eventDate": "2001-02-03T04:05:06Z"},
    {"eventAction": "expiration", "eventDate": "not a date"}
  ],
  "links": [{"value": "https://rdap.example/ip/192.0.2.1", "rel": "self", "type": "application/rdap+json", "href": "https://rdap.example/ip/192.0.2.0"}],
  "remarks": [{"title": "Registration Comments", "description": ["Addresses of this network are assigned to customers."]}],
  "entities": [
    {"objectClassName": "entity", "handle": "EXORG", "roles": ["registrant"],
     "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "Example Networks B.V."], ["kind", {}, "text", "org"],
       ["adr", {"label": "Keizersgracht 1\nAmsterdam\n1015 CJ\nNL"}, "text", ["", "", "", "", "", "", ""]]]],
     "entities": [
       {"objectClassName": "entity", "handle": "NOC-EX", "roles": ["abuse", "technical"],
        "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "Network Operations"], ["kind", {}, "text", "group"],
          ["email", {}, "text", "noc@example.net"], ["tel", {"type": ["work", "voice"]}, "text", "+31 20 555 0199"]]]}
     ]},
    {"objectClassName": "entity", "handle": "RIR", "roles": ["registrar"],
     "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "Example RIR"], ["kind", {}, "text", "org"]]]}
  ]
}`

const ipv6NetworkJSON = `{
  "rdapConformance": ["rdap_level_0", "cidr0"],
  "objectClassName": "ip network",
  "handle": "2001:DB8::/32",
  "startAddress": "2001:0db8:0000:0000:0000:0000:0000:0000",
  "endAddress": "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
  "ipVersion": "v6",
  "name": "DOC-NET-6",
  "type": "ALLOCATED-BY-RIR",
  "country": "AU",
  "cidr0_cidrs": [{"v6prefix": "2001:db8::", "length": 32}],
  "status": ["active"]
}`

const domainJSON = `{
  "objectClassName": "domain",
  "handle": "2138514_DOMAIN_COM-VRSN",
  "ldhName": "EXAMPLE.COM",
  "links": [{"value": "https://rdap.example/domain/EXAMPLE.COM", "rel": "self", "href": "https://rdap.example/domain/EXAMPLE.COM", "type": "application/rdap+json"}],
  "status": ["client delete prohibited", "client transfer prohibited", "client update prohibited"],
  "entities": [
    {"objectClassName": "entity", "handle": "376", "roles": ["registrar"],
     "publicIds": [{"type": "IANA Registrar ID", "identifier": "376"}],
     "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "RESERVED-Internet Assigned Numbers Authority"]]],
     "entities": [{"objectClassName": "entity", "roles": ["abuse"],
       "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", ""], ["tel", {"type": "voice"}, "uri", "tel:+1.3103015800"], ["email", {}, "text", "abuse@registrar.example"]]]}]}
  ],
  "events": [
    {"eventAction": "registration", "eventDate": "1995-08-14T04:00:00Z"},
    {"eventAction": "expiration", "eventDate": "2026-08-13T04:00:00Z"},
    {"eventAction": "last changed", "eventDate": "2025-08-14T07:01:34Z"},
    {"eventAction": "last update of RDAP database", "eventDate": "2026-01-01T00:00:00Z"}
  ],
  "secureDNS": {"delegationSigned": true, "dsData": [{"keyTag": 370, "algorithm": 13, "digestType": 2, "digest": "BE74359954660069D5C63D200C39F5603827D7DD02B56F120EE9F3A86764247C"}]},
  "nameservers": [
    {"objectClassName": "nameserver", "ldhName": "A.IANA-SERVERS.NET."},
    {"objectClassName": "nameserver", "ldhName": "B.IANA-SERVERS.NET"},
    {"objectClassName": "nameserver", "ldhName": "not a host name"},
    {"objectClassName": "nameserver", "ldhName": "a.iana-servers.net"}
  ],
  "rdapConformance": ["rdap_level_0", "icann_rdap_technical_implementation_guide_0", "icann_rdap_response_profile_0"],
  "notices": [{"title": "Status Codes", "description": ["For more information on domain status codes, please visit https://icann.org/epp"]}]
}`

const autnumJSON = `{
  "rdapConformance": ["rdap_level_0", "nro_rdap_profile_asn_flat_0"],
  "objectClassName": "autnum",
  "handle": "AS64496",
  "startAutnum": 64496,
  "endAutnum": 64496,
  "name": "EXAMPLE-AS",
  "type": "DIRECT ALLOCATION",
  "country": "DE",
  "status": ["active"],
  "events": [{"eventAction": "registration", "eventDate": "2010-05-06T07:08:09Z"}],
  "entities": [
    {"objectClassName": "entity", "handle": "ORG-EX1", "roles": ["registrant"],
     "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "Example AS Operator GmbH"], ["kind", {}, "text", "org"]]]},
    {"objectClassName": "entity", "handle": "JD1-EX", "roles": ["administrative", "technical"],
     "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "Johann Doe"], ["kind", {}, "text", "individual"], ["email", {}, "text", "johann.doe@example.de"]]]}
  ]
}`

// Personal data an answer may carry; none of it may reach a Result.
var personal = []string{
	"Erika Mustermann", "erika.mustermann@example.org", "+49 30 5550 1234", "tel:+49.3055501234", "Heidestrasse 17",
	"Koeln", "51147", "Jane Roe", "jane.roe@example.net", "+1 555 0100", "Abuse Handler Person", "abuse-person@example.com",
	"John Q. Public", "john.public@example.com", "Tech Person", "tech@example.com", "Private Registrant", "privacy@example.com",
	"ERIKA", "Domain Owner Personal",
}

// piiIPNetworkJSON has an individual as registrant (an org-like role but
// kind individual) and personal abuse, technical and administrative
// contacts, at the top level and nested.
const piiIPNetworkJSON = `{
  "objectClassName": "ip network",
  "handle": "NET-198-51-100-0-1",
  "startAddress": "198.51.100.0",
  "endAddress": "198.51.100.255",
  "name": "CUSTOMER-NET",
  "type": "REASSIGNED",
  "country": "DE",
  "entities": [
    {"objectClassName": "entity", "handle": "EM123", "roles": ["registrant"],
     "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "Erika Mustermann"], ["kind", {}, "text", "individual"],
       ["n", {}, "text", ["Mustermann", "Erika", "", "", ""]],
       ["adr", {"label": "Heidestrasse 17\n51147 Koeln"}, "text", ["", "", "Heidestrasse 17", "Koeln", "", "51147", "DE"]],
       ["email", {}, "text", "erika.mustermann@example.org"], ["tel", {"type": "voice"}, "uri", "tel:+49.3055501234"],
       ["tel", {"type": "fax"}, "text", "+49 30 5550 1234"]]],
     "entities": [{"objectClassName": "entity", "handle": "JR1", "roles": ["abuse"],
       "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "Jane Roe"], ["kind", {}, "text", "org"], ["email", {}, "text", "jane.roe@example.net"], ["tel", {}, "text", "+1 555 0100"]]]}]},
    {"objectClassName": "entity", "handle": "AH1", "roles": ["abuse"],
     "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "Abuse Handler Person"], ["kind", {}, "text", "org"], ["email", {}, "text", "abuse-person@example.com"]]]},
    {"objectClassName": "entity", "handle": "JQP", "roles": ["technical", "administrative"],
     "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "John Q. Public"], ["kind", {}, "text", "org"], ["email", {}, "text", "john.public@example.com"]]]},
    {"objectClassName": "entity", "handle": "TP1", "roles": ["technical"],
     "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "Tech Person"], ["email", {}, "text", "tech@example.com"]]]},
    {"objectClassName": "entity", "handle": "NOKIND", "roles": ["registrant"],
     "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "Private Registrant"], ["email", {}, "text", "privacy@example.com"]]]}
  ]
}`

// piiDomainJSON has personal registrant and contacts, and a "registrar"
// whose vCard says it is an individual.
const piiDomainJSON = `{
  "objectClassName": "domain",
  "ldhName": "personal.example",
  "entities": [
    {"objectClassName": "entity", "roles": ["registrant"],
     "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "Domain Owner Personal"], ["kind", {}, "text", "org"], ["email", {}, "text", "erika.mustermann@example.org"]]]},
    {"objectClassName": "entity", "roles": ["administrative", "technical", "billing"],
     "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "ERIKA"], ["kind", {}, "text", "individual"], ["tel", {}, "text", "+49 30 5550 1234"]]]},
    {"objectClassName": "entity", "roles": ["registrar"],
     "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "John Q. Public"], ["kind", {}, "text", "individual"]]]},
    {"objectClassName": "entity", "roles": ["abuse"],
     "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "Jane Roe"], ["email", {}, "text", "jane.roe@example.net"]]]}
  ],
  "nameservers": [{"objectClassName": "nameserver", "ldhName": "ns.personal.example"}]
}`
