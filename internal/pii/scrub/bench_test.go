package scrub

import (
	"strings"
	"testing"
)

var benchLines = []string{
	`2026-11-27T10:00:00Z INFO request handled method=GET path=/api/v1/items/42 status=200 dur=12.5ms remote=192.168.1.10:53211`,
	`2026-11-27T10:00:01Z WARN login failed for alice.smith@example.com from 10.0.0.7 attempt=3`,
	`2026-11-27T10:00:02Z ERROR payment declined card=4111 1111 1111 1111 amount=12.99 currency=EUR`,
	`2026-11-27T10:00:03Z INFO opened /home/bob/.config/app/settings.json size=2048 sha256=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08`,
	`Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.109 Safari/537.36`,
	`CEF:0|Vendor|Product|1.2.3.4|100|User callback|5|msg=please call +44 20 7946 0958 re IBAN DE89 3704 0044 0532 0130 00`,
	`2026-11-27T10:00:04Z DEBUG trace=4bf92f3577b34da6a3ce929d0e0e4736 id=123e4567-e89b-12d3-a456-426614174000 epoch=1732700000123`,
	`2026-11-27T10:00:05Z INFO crash dump at C:\Users\carol\AppData\Local\Temp\dump.dmp pid=12345`,
}

func benchInput() string {
	var b strings.Builder
	for b.Len() < 1<<20 {
		for _, l := range benchLines {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func BenchmarkFind(b *testing.B) {
	sc := allOn(b)
	in := benchInput()
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		_ = sc.Find(in)
	}
}

func BenchmarkReplace(b *testing.B) {
	sc := allOn(b)
	in := benchInput()
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		_ = sc.Replace(in, nil)
	}
}
