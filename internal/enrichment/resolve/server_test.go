package resolve

import (
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/goleak"

	"github.com/heimdallhub/heimdall/internal/enrichment/enrichtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// zoneRecords is the scripted zone the test resolver answers from.
var zoneRecords = []string{
	"www.example.com. 300 IN A 192.0.2.11",
	"www.example.com. 300 IN A 192.0.2.10",
	"www.example.com. 300 IN A 192.0.2.10", // duplicate
	"www.example.com. 300 IN AAAA 2001:db8::10",
	"alias.example.com. 300 IN CNAME edge.example.net.",
	"edge.example.net. 300 IN CNAME www.example.com.",
	"v4only.example.com. 300 IN A 198.51.100.1",
	"v6only.example.com. 300 IN AAAA 2001:db8::6",
	"dangling.example.com. 300 IN CNAME gone.example.net.",
	"nodata.example.com. 300 IN TXT \"no addresses here\"",
	"aaaa-servfail.example.com. 300 IN A 192.0.2.20",
	"10.2.0.192.in-addr.arpa. 300 IN PTR www.example.com.",
	"10.2.0.192.in-addr.arpa. 300 IN PTR WWW2.Example.COM.",
	// Classless delegation (RFC 2317): the PTR sits behind a CNAME.
	"5.2.0.192.in-addr.arpa. 300 IN CNAME 5.0-25.2.0.192.in-addr.arpa.",
	"5.0-25.2.0.192.in-addr.arpa. 300 IN PTR classless.example.org.",
	`66.2.0.192.in-addr.arpa. 300 IN PTR bad\032name.example.`,
	`67.2.0.192.in-addr.arpa. 300 IN PTR bad\032name.example.`,
	"67.2.0.192.in-addr.arpa. 300 IN PTR good.example.",
}

func init() {
	for i := range 40 {
		zoneRecords = append(zoneRecords,
			fmt.Sprintf("many.example.com. 60 IN A 203.0.113.%d", 100+i),
			fmt.Sprintf("many.example.com. 60 IN AAAA 2001:db8:ffff::%x", 100+i))
	}
	v6ptr, _ := dns.ReverseAddr("2001:db8::10")
	zoneRecords = append(zoneRecords, v6ptr+" 300 IN PTR v6host.example.net.")
}

type zone map[string][]dns.RR // owner name (lower case) → records

func parseZone(t testing.TB) zone {
	t.Helper()
	z := zone{}
	for _, s := range zoneRecords {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		name := strings.ToLower(rr.Header().Name)
		z[name] = append(z[name], rr)
	}
	return z
}

// resolve answers name/qtype like a recursive resolver: following CNAMEs,
// NXDOMAIN when the chain ends at a name without records.
func (z zone) resolve(m *dns.Msg, name string, qtype uint16) {
	cur := strings.ToLower(name)
	for range 8 {
		rrs, ok := z[cur]
		if !ok {
			m.Rcode = dns.RcodeNameError
			return
		}
		next := ""
		for _, rr := range rrs {
			if cn, ok := rr.(*dns.CNAME); ok && qtype != dns.TypeCNAME {
				m.Answer = append(m.Answer, cn)
				next = strings.ToLower(cn.Target)
			}
		}
		if next == "" {
			for _, rr := range rrs {
				if rr.Header().Rrtype == qtype {
					m.Answer = append(m.Answer, rr)
				}
			}
			return
		}
		cur = next
	}
}

// server is a DNS-over-TLS test resolver.
type server struct {
	addr    string
	queries atomic.Int64
}

// special behaviours, by question name.
func (s *server) handler(z zone, release <-chan struct{}) dns.HandlerFunc {
	return func(w dns.ResponseWriter, r *dns.Msg) {
		s.queries.Add(1)
		q := r.Question[0]
		m := new(dns.Msg)
		m.SetReply(r)
		m.RecursionAvailable = true
		switch name := strings.ToLower(q.Name); {
		case name == "hang.example.com." || name == "77.2.0.192.in-addr.arpa.":
			select { // never answers while the test runs
			case <-release:
			case <-time.After(time.Minute):
			}
			return
		case name == "garbage.example.com.":
			_, _ = w.Write([]byte("\x12\x34\x81\x80\x00\x01\x00\x05\x00\x00\x00\x00\x07example\x03com")) // truncated mid-message
			return
		case name == "short.example.com.":
			_, _ = w.Write([]byte{0x12, 0x34, 0x81})
			return
		case name == "close.example.com.":
			_ = w.Close()
			return
		case name == "servfail.example.com." || name == "88.2.0.192.in-addr.arpa.":
			m.Rcode = dns.RcodeServerFailure
		case name == "refused.example.com.":
			m.Rcode = dns.RcodeRefused
		case name == "notimp.example.com.":
			m.Rcode = dns.RcodeNotImplemented
		case name == "badrcode.example.com.":
			m.Rcode = dns.RcodeNotAuth
		case name == "mismatch.example.com.":
			m.Question[0].Name = "other.example.com."
			m.Answer = []dns.RR{mustRR("other.example.com. 60 IN A 192.0.2.1")}
		case name == "wrongid.example.com.":
			m.Id++
		case name == "aaaa-servfail.example.com." && q.Qtype == dns.TypeAAAA:
			m.Rcode = dns.RcodeServerFailure
		default:
			z.resolve(m, q.Name, q.Qtype)
		}
		_ = w.WriteMsg(m)
	}
}

func mustRR(s string) dns.RR {
	rr, err := dns.NewRR(s)
	if err != nil {
		panic(err)
	}
	return rr
}

// startServer serves the zone over TLS with cfg on 127.0.0.1; it stops
// when the test ends.
func startServer(t testing.TB, cfg *tls.Config) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{addr: ln.Addr().String()}
	release := make(chan struct{})
	started := make(chan struct{})
	srv := &dns.Server{
		Net:               "tcp-tls",
		Listener:          tls.NewListener(ln, cfg),
		Handler:           s.handler(parseZone(t), release),
		NotifyStartedFunc: func() { close(started) },
	}
	served := make(chan error, 1)
	go func() { served <- srv.ActivateAndServe() }()
	select {
	case <-started:
	case err := <-served:
		t.Fatalf("server: %v", err)
	}
	t.Cleanup(func() {
		close(release)
		if err := srv.Shutdown(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		<-served
	})
	return s
}

// setup starts a TLS 1.3 resolver of a fresh CA and a provider for it.
func setup(t testing.TB, mod func(*Config)) (*Provider, *server) {
	t.Helper()
	ca := enrichtest.NewCA(t)
	s := startServer(t, ca.ServerConfig(t))
	cfg := Config{Name: "dns-test", Server: s.addr, TLS: ca.ClientConfig(), Timeout: 2 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p, s
}
