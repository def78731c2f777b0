package zeek

import (
	"bytes"
	"io"

	"github.com/heimdallhub/heimdall/internal/format"
	"github.com/heimdallhub/heimdall/internal/format/internal/lineio"
	"github.com/heimdallhub/heimdall/internal/format/ndjson"
)

// btestBanner starts the first line of Zeek's btest baseline files.
var btestBanner = []byte("### BTest baseline data")

// jsonReader reads Zeek's JSON logs (LogAscii::use_json=T): one object per
// line.
type jsonReader struct {
	lr  *lineio.Reader
	lim format.Limits
	opt options
	err error
}

// NewJSONReader reads a Zeek JSON log from r: one JSON object per line,
// parsed strictly by ndjson.ParseObject. Meta["zeek.path"] comes from the
// Path option, else the "_path" field, else a guess from the field set (see
// the package documentation).
func NewJSONReader(r io.Reader, lim format.Limits, opts ...Option) format.Reader {
	lim = lim.WithDefaults()
	j := &jsonReader{lr: lineio.New(r, lim.MaxLineBytes), lim: lim}
	for _, o := range opts {
		o(&j.opt)
	}
	return j
}

func (j *jsonReader) Next() (format.Record, error) {
	if j.err != nil {
		return format.Record{}, j.err
	}
	for {
		ln, err := j.lr.Next()
		if err != nil {
			j.err = err
			return format.Record{}, err
		}
		rec := format.Record{Line: ln.Number, Offset: ln.Offset}
		if ln.TooLong {
			rec.Reject = format.Rejectf("line_too_long", "line %d is longer than %d bytes", ln.Number, j.lim.MaxLineBytes)
			return rec, nil
		}
		if ln.Blank || bytes.HasPrefix(ln.Data, btestBanner) {
			continue // blank line or btest banner: documented as skipped
		}
		obj, rej := ndjson.ParseObject(ln.Data, j.lim)
		if rej != nil {
			rec.Reject = format.Rejectf(rej.Code, "line %d: %s", ln.Number, rej.Reason)
			return rec, nil
		}
		rec.Fields = obj
		if p := j.path(obj); p != "" {
			rec.Meta = map[string]string{MetaPath: p}
		}
		return rec, nil
	}
}

func (j *jsonReader) path(obj map[string]any) string {
	if j.opt.path != "" {
		return j.opt.path
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
