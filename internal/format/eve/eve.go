package eve

import (
	"encoding/json"
	"io"
	"strconv"

	"github.com/heimdallhub/heimdall/internal/format"
	"github.com/heimdallhub/heimdall/internal/format/internal/linerec"
	"github.com/heimdallhub/heimdall/internal/format/ndjson"
)

// Meta keys.
const (
	// MetaEventType holds the record's "event_type" (alert, dns, http, tls,
	// flow, fileinfo, ...).
	MetaEventType = "eve.event_type"
	// MetaDNSVersion is set when the record has a "dns" object: "3" for the
	// Suricata 8 layout (dns.queries[], dns.answers[]), "2" for the flat
	// layout of Suricata 4-7 (dns.rrname, dns.rrtype, dns.answers[] or
	// dns.grouped, or one record per answer with dns.rdata), "1" when the
	// record says "version":1. An explicit dns.version wins.
	MetaDNSVersion = "eve.dns.version"
)

// NewReader reads Suricata EVE JSON from r: one JSON object per line,
// parsed strictly by ndjson.ParseObject. A line without a string
// "event_type" is rejected not_eve.
func NewReader(r io.Reader, lim format.Limits) format.Reader {
	lim = lim.WithDefaults()
	return linerec.NewReader(r, lim, nil, func(n int64, data []byte) (map[string]any, map[string]string, *format.Reject) {
		obj, rej := ndjson.ParseObject(data, lim)
		if rej != nil {
			return nil, nil, format.Rejectf(rej.Code, "line %d: %s", n, rej.Reason)
		}
		et, ok := obj["event_type"].(string)
		if !ok || et == "" {
			return nil, nil, format.Rejectf("not_eve", "line %d: no string event_type", n)
		}
		meta := map[string]string{MetaEventType: et}
		if v := dnsVersion(obj); v != "" {
			meta[MetaDNSVersion] = v
		}
		return obj, meta, nil
	})
}

// dnsVersion classifies the layout of the record's "dns" object.
func dnsVersion(obj map[string]any) string {
	dns, ok := obj["dns"].(map[string]any)
	if !ok {
		return ""
	}
	if n, ok := dns["version"].(json.Number); ok {
		if v, err := strconv.Atoi(string(n)); err == nil && v >= 1 && v <= 9 {
			return strconv.Itoa(v)
		}
	}
	if _, ok := dns["queries"]; ok {
		return "3"
	}
	return "2"
}
