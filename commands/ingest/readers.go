package ingest

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/heimdallhub/heimdall/internal/format"
	"github.com/heimdallhub/heimdall/internal/format/cef"
	"github.com/heimdallhub/heimdall/internal/format/decompress"
	"github.com/heimdallhub/heimdall/internal/format/delimited"
	"github.com/heimdallhub/heimdall/internal/format/eve"
	"github.com/heimdallhub/heimdall/internal/format/leef"
	"github.com/heimdallhub/heimdall/internal/format/ndjson"
	"github.com/heimdallhub/heimdall/internal/format/zeek"
)

// Formats are the input formats Handle reads ("auto" or "" sniffs).
var Formats = []string{"ndjson", "json", "csv", "tsv", "zeek", "zeek-json", "eve", "cef", "leef"}

// sniffBytes is how much of an upload is looked at to recognise its format.
const sniffBytes = 64 << 10

// openInput unwraps compression and returns the format reader, the format
// it chose and a closer for the decompressor.
func (h *Handler) openInput(cmd Command) (format.Reader, string, func(), error) {
	body, _, err := decompress.Open(cmd.Body, cmd.ContentEncoding, h.opts.Decompress)
	if err != nil {
		return nil, "", nil, err
	}
	closer := func() { _ = body.Close() }
	br := bufio.NewReaderSize(body, sniffBytes)
	name := cmd.Format
	if name == "" || name == "auto" {
		prefix, err := br.Peek(sniffBytes)
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
			closer()
			return nil, "", nil, err
		}
		if name = format.Sniff(prefix); name == "" {
			closer()
			return nil, "", nil, fmt.Errorf("%w: the format could not be recognised; name it with the format parameter (one of %v)", ErrUnsupportedFormat, Formats)
		}
	}
	lim := h.opts.Limits
	var r format.Reader
	switch name {
	case "ndjson":
		r = ndjson.NewReader(br, lim)
	case "json":
		r = ndjson.NewArrayReader(br, lim)
	case "csv", "tsv":
		delim := cmd.Delimiter
		if delim == 0 {
			delim = ','
			if name == "tsv" {
				delim = '\t'
			}
		}
		r = delimited.NewReader(br, delimited.Options{Delimiter: delim, Limits: lim})
	case "zeek":
		r = zeek.NewReader(br, lim)
	case "zeek-json":
		r = zeek.NewJSONReader(br, lim)
	case "eve":
		r = eve.NewReader(br, lim)
	case "cef":
		r = cef.NewReader(br, lim)
	case "leef":
		r = leef.NewReader(br, lim)
	default:
		closer()
		return nil, "", nil, fmt.Errorf("%w: %q (supported: %v)", ErrUnsupportedFormat, name, Formats)
	}
	return r, name, closer, nil
}
