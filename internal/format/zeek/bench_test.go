package zeek

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/heimdallhub/heimdall/internal/format"
	"github.com/heimdallhub/heimdall/internal/format/formattest"
)

// genTSV builds a conn log of about size bytes.
func genTSV(size int) []byte {
	var b bytes.Buffer
	b.WriteString("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n#open\t2024-01-01-00-00-00\n" +
		"#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\n" +
		"#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]\n")
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "1704067%03d.%06d\tC%017d\t10.%d.%d.%d\t%d\t192.0.2.%d\t443\ttcp\tssl\t%d.%06d\t%d\t%d\tSF\tT\tF\t0\tShADadFf\t%d\t%d\t%d\t%d\t(empty)\n",
			i%1000, i%1000000, i, i%256, (i/256)%256, i%200, 1024+i%60000, i%250, i%30, i%1000000, 100+i%5000, 2000+i%90000, 5+i%40, 400+i%9000, 7+i%50, 2500+i%90000)
	}
	b.WriteString("#close\t2024-01-01-00-00-01\n")
	return b.Bytes()
}

// BenchmarkZeekTSV parses a generated ~10 MB conn log.
func BenchmarkZeekTSV(b *testing.B) {
	formattest.BenchReader(b, genTSV(10<<20), func(r io.Reader) format.Reader { return NewReader(r, format.Limits{}) })
}

// BenchmarkZeekJSON parses ~10 MB of Zeek JSON (the json-path.log rows
// repeated).
func BenchmarkZeekJSON(b *testing.B) {
	formattest.BenchReader(b, formattest.Repeat(fixture(b, "json-path.log"), 10<<20), func(r io.Reader) format.Reader { return NewJSONReader(r, format.Limits{}) })
}
