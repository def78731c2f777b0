package zeek

import (
	"bytes"
	"io"

	"github.com/heimdallhub/heimdall/internal/format"
	"github.com/heimdallhub/heimdall/internal/format/internal/linerec"
	"github.com/heimdallhub/heimdall/internal/format/ndjson"
)

// btestBanner starts the first line of Zeek's btest baseline files.
var btestBanner = []byte("### BTest baseline data")

// NewJSONReader reads a Zeek JSON log from r: one JSON object per line,
// parsed strictly by ndjson.ParseObject. Meta["zeek.path"] comes from the
// Path option, else the "_path" field, else a guess from the field set (see
// the package documentation). Blank lines and the btest banner are skipped.
func NewJSONReader(r io.Reader, lim format.Limits, opts ...Option) format.Reader {
	lim = lim.WithDefaults()
	var opt options
	for _, o := range opts {
		o(&opt)
	}
	return linerec.NewReader(r, lim, isBTestBanner, func(n int64, data []byte) (map[string]any, map[string]string, *format.Reject) {
		obj, rej := ndjson.ParseObject(data, lim)
		if rej != nil {
			return nil, nil, format.Rejectf(rej.Code, "line %d: %s", n, rej.Reason)
		}
		if p := jsonPath(opt, obj); p != "" {
			return obj, map[string]string{MetaPath: p}, nil
		}
		return obj, nil, nil
	})
}

// isBTestBanner reports whether line starts with the btest banner.
func isBTestBanner(line []byte) bool { return bytes.HasPrefix(line, btestBanner) }

// jsonPath is the record's log path: the Path option, else "_path", else
// GuessPath.
func jsonPath(opt options, obj map[string]any) string {
	if opt.path != "" {
		return opt.path
	}
	if p, ok := obj["_path"].(string); ok && p != "" {
		return p
	}
	return GuessPath(obj)
}

// GuessPath guesses the log path of a Zeek record without "_path" from its
// field names; "" when no rule matches. The rules, tried in this order:
//
//	x509  "certificate.serial" or "fingerprint"
//	files "fuid" and one of "mime_type", "source", "analyzers", "seen_bytes"
//	conn  "uid", "id.orig_h", "proto" and "conn_state"
//	dns   "trans_id" and one of "query", "qtype", "qtype_name", "rcode"
//	http  "method" and "uri" (and no "call_id", which marks sip)
//	ssl   "cipher" or "ssl_history", or "server_name" with "version", or
//	      "established" with "resumed"
//
// Zeek leaves unset fields out of JSON, so the rules avoid relying on
// fields that are often unset.
func GuessPath(f map[string]any) string {
	has := func(k string) bool { _, ok := f[k]; return ok }
	hasAny := func(ks ...string) bool {
		for _, k := range ks {
			if has(k) {
				return true
			}
		}
		return false
	}
	switch {
	case has("certificate.serial") || has("fingerprint"):
		return "x509"
	case has("fuid") && hasAny("mime_type", "source", "analyzers", "seen_bytes"):
		return "files"
	case has("uid") && has("id.orig_h") && has("proto") && has("conn_state"):
		return "conn"
	case has("trans_id") && hasAny("query", "qtype", "qtype_name", "rcode"):
		return "dns"
	case has("method") && has("uri") && !has("call_id"):
		return "http"
	case has("cipher") || has("ssl_history") || (has("server_name") && has("version")) || (has("established") && has("resumed")):
		return "ssl"
	}
	return ""
}
