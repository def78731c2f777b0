package ndjson

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/heimdallhub/heimdall/internal/format"
	"github.com/heimdallhub/heimdall/internal/format/formattest"
)

// benchInput generates about size bytes of EVE-like NDJSON records.
func benchInput(size int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, `{"timestamp":"2024-05-01T12:%02d:%02d.%06d+0000","flow_id":%d,"event_type":"dns","src_ip":"10.0.%d.%d","src_port":%d,"dest_ip":"192.0.2.%d","dest_port":53,"proto":"UDP","dns":{"type":"query","id":%d,"rrname":"host%d.example.com","rrtype":"A","tx_id":0,"opcode":0},"tags":["a","b"],"score":%d.%d}`+"\n",
			i/60%60, i%60, i%1000000, 1000000000000+i, i/256%256, i%256, 1024+i%60000, i%256, i%65536, i, i%100, i%10)
	}
	return b.Bytes()
}

func BenchmarkNDJSON(b *testing.B) {
	formattest.BenchReader(b, benchInput(10<<20), func(r io.Reader) format.Reader { return NewReader(r, format.Limits{}) })
}

func BenchmarkArray(b *testing.B) {
	lines := bytes.Split(bytes.TrimSpace(benchInput(10<<20)), []byte("\n"))
	in := append(append([]byte("[\n"), bytes.Join(lines, []byte(",\n"))...), "\n]\n"...)
	formattest.BenchReader(b, in, func(r io.Reader) format.Reader { return NewArrayReader(r, format.Limits{}) })
}
