package delimited

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/heimdallhub/heimdall/internal/format"
	"github.com/heimdallhub/heimdall/internal/format/formattest"
)

// benchInput generates about size bytes of CSV: a header and rows of eight
// columns, some quoted.
func benchInput(size int) []byte {
	var b bytes.Buffer
	b.WriteString("ts,src_ip,src_port,dest_ip,dest_port,proto,user_agent,bytes\n")
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "2024-05-01T12:%02d:%02d.%06dZ,10.0.%d.%d,%d,192.0.2.%d,443,TCP,\"Mozilla/5.0 (X11; Linux x86_64) \"\"bench\"\", %d\",%d\n",
			i/60%60, i%60, i%1000000, i/256%256, i%256, 1024+i%60000, i%256, i%97, i*13)
	}
	return b.Bytes()
}

func BenchmarkCSV(b *testing.B) {
	formattest.BenchReader(b, benchInput(10<<20), func(r io.Reader) format.Reader { return NewReader(r, Options{}) })
}
