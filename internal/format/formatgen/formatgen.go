package formatgen

import (
	"bytes"
	"fmt"
)

// Formats are the keys of Connections' result, in a stable order.
var Formats = []string{"ndjson", "csv", "zeek", "eve", "cef"}

// Connections generates n connection records in each format, with the same
// addresses, so the figures compare formats on equal work: each record
// yields two address entities and one CONNECTED_TO relation.
func Connections(n int) map[string][]byte {
	ip := func(i int) (string, string) {
		return fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), fmt.Sprintf("192.0.%d.%d", 2+i%2, i%250+1)
	}
	out := map[string]*bytes.Buffer{"ndjson": {}, "csv": {}, "zeek": {}, "eve": {}, "cef": {}}
	out["csv"].WriteString("timestamp,src_ip,dst_ip,dst_port,proto\n")
	out["zeek"].WriteString("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n" +
		"#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\n" +
		"#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\n")
	for i := 0; i < n; i++ {
		src, dst := ip(i)
		ts := 1763626502 + i
		fmt.Fprintf(out["ndjson"], `{"ts":%d.5,"src_ip":"%s","dst_ip":"%s","dst_port":443,"proto":"tcp"}`+"\n", ts, src, dst)
		fmt.Fprintf(out["csv"], "%d.5,%s,%s,443,tcp\n", ts, src, dst)
		fmt.Fprintf(out["zeek"], "%d.500000\tC%08x\t%s\t%d\t%s\t443\ttcp\tssl\t1.5\t517\t4096\tSF\n", ts, i, src, 40000+i%20000, dst)
		fmt.Fprintf(out["eve"], `{"timestamp":"2026-11-20T08:15:02.114000+0000","flow_id":%d,"event_type":"flow","src_ip":"%s","src_port":%d,"dest_ip":"%s","dest_port":443,"proto":"TCP","app_proto":"tls","flow":{"pkts_toserver":10,"pkts_toclient":12,"bytes_toserver":517,"bytes_toclient":4096,"state":"closed"}}`+"\n", i, src, 40000+i%20000, dst)
		fmt.Fprintf(out["cef"], "<134>Nov 20 08:15:02 fw01 CEF:0|Example|Gateway|9.1|traffic|allowed connection|3|rt=%d000 src=%s spt=%d dst=%s dpt=443 proto=TCP act=allow\n", ts, src, 40000+i%20000, dst)
	}
	res := map[string][]byte{}
	for k, v := range out {
		res[k] = v.Bytes()
	}
	return res
}
