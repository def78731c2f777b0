package resolve

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heimdallhub/heimdall/internal/enrichment"
	"github.com/heimdallhub/heimdall/internal/enrichment/enrichtest"
)

var edgeLabel = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,62}$`)

func rel(typ, kind, value string) enrichment.Relation {
	return enrichment.Relation{Type: typ, Target: enrichment.Target{Kind: kind, Value: value}}
}

func attr(kv ...string) []enrichment.Attribute {
	var out []enrichment.Attribute
	for i := 0; i < len(kv); i += 2 {
		out = append(out, enrichment.Attribute{Name: kv[i], Value: kv[i+1]})
	}
	return out
}

type enrichCase struct {
	name     string
	kind     string
	value    string
	notFound bool
	attrs    []enrichment.Attribute
	rels     []enrichment.Relation
	class    enrichment.Class
	secret   []string // strings no error may contain besides the value
}

func runCases(t *testing.T, p *Provider, cases []enrichCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := p.Enrich(context.Background(), enrichment.Request{Key: tc.value, Kind: tc.kind, Value: tc.value})
			if tc.class != "" {
				var e *enrichment.Error
				if !errors.As(err, &e) || e.Class != tc.class {
					t.Fatalf("err = %v (%T), want class %s; result %+v", err, err, tc.class, r)
				}
				for _, s := range append([]string{tc.value, strings.TrimSuffix(tc.value, ".com")}, tc.secret...) {
					if s != "" && (strings.Contains(e.Error(), s) || strings.Contains(enrichment.Reason(err), s)) {
						t.Fatalf("error %q quotes %q", e.Error(), s)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.NotFound != tc.notFound {
				t.Fatalf("NotFound = %v, want %v (%+v)", r.NotFound, tc.notFound, r)
			}
			if tc.notFound && (len(r.Attributes) != 0 || len(r.Relations) != 0) {
				t.Fatalf("not-found result carries data: %+v", r)
			}
			if !reflect.DeepEqual(r.Attributes, tc.attrs) {
				t.Fatalf("attributes\n got %v\nwant %v", r.Attributes, tc.attrs)
			}
			if !reflect.DeepEqual(r.Relations, tc.rels) {
				t.Fatalf("relations\n got %v\nwant %v", r.Relations, tc.rels)
			}
			for _, rl := range r.Relations {
				if !edgeLabel.MatchString(rl.Type) || rl.Reverse {
					t.Fatalf("bad relation %+v", rl)
				}
			}
		})
	}
}

func TestReverse(t *testing.T) {
	p, _ := setup(t, nil)
	runCases(t, p, []enrichCase{
		{name: "ipv4 two names, canonical and sorted", kind: "ipv4-addr", value: "192.0.2.10",
			attrs: attr("ptr", "www.example.com", "ptr", "www2.example.com"),
			rels:  []enrichment.Relation{rel("PTR", "domain-name", "www.example.com"), rel("PTR", "domain-name", "www2.example.com")}},
		{name: "ipv6", kind: "ipv6-addr", value: "2001:db8::10",
			attrs: attr("ptr", "v6host.example.net"), rels: []enrichment.Relation{rel("PTR", "domain-name", "v6host.example.net")}},
		{name: "classless delegation via cname", kind: "ipv4-addr", value: "192.0.2.5",
			attrs: attr("ptr", "classless.example.org"), rels: []enrichment.Relation{rel("PTR", "domain-name", "classless.example.org")}},
		{name: "non-host names dropped", kind: "ipv4-addr", value: "192.0.2.67",
			attrs: attr("ptr", "good.example"), rels: []enrichment.Relation{rel("PTR", "domain-name", "good.example")}},
		{name: "only non-host names", kind: "ipv4-addr", value: "192.0.2.66", class: enrichment.ClassBadResponse,
			secret: []string{"name.example"}},
		{name: "nxdomain", kind: "ipv4-addr", value: "192.0.2.99", notFound: true},
		{name: "ipv6 nxdomain", kind: "ipv6-addr", value: "2001:db8::99", notFound: true},
		{name: "servfail", kind: "ipv4-addr", value: "192.0.2.88", class: enrichment.ClassUnavailable},
		{name: "not an address", kind: "ipv4-addr", value: "192.0.2.300", class: enrichment.ClassRejected},
		{name: "zoned", kind: "ipv6-addr", value: "fe80::1%eth0", class: enrichment.ClassRejected},
		{name: "ipv6 as ipv4 kind", kind: "ipv4-addr", value: "2001:db8::10", class: enrichment.ClassRejected},
		{name: "unknown kind", kind: "url", value: "https://example.com/", class: enrichment.ClassRejected},
	})
}

func TestForward(t *testing.T) {
	p, _ := setup(t, nil)
	www := []enrichment.Relation{
		rel("RESOLVES_TO", "ipv4-addr", "192.0.2.10"), rel("RESOLVES_TO", "ipv4-addr", "192.0.2.11"),
		rel("RESOLVES_TO", "ipv6-addr", "2001:db8::10"),
	}
	runCases(t, p, []enrichCase{
		{name: "a and aaaa, deduplicated and sorted", kind: "domain-name", value: "www.example.com",
			attrs: attr("resolved_count", "3"), rels: www},
		{name: "upper case and trailing dot", kind: "domain-name", value: "WWW.Example.com.",
			attrs: attr("resolved_count", "3"), rels: www},
		{name: "cname chain", kind: "domain-name", value: "alias.example.com",
			attrs: attr("cname", "edge.example.net", "cname", "www.example.com", "resolved_count", "3"), rels: www},
		{name: "ipv4 only", kind: "domain-name", value: "v4only.example.com",
			attrs: attr("resolved_count", "1"), rels: []enrichment.Relation{rel("RESOLVES_TO", "ipv4-addr", "198.51.100.1")}},
		{name: "ipv6 only", kind: "domain-name", value: "v6only.example.com",
			attrs: attr("resolved_count", "1"), rels: []enrichment.Relation{rel("RESOLVES_TO", "ipv6-addr", "2001:db8::6")}},
		{name: "dangling cname", kind: "domain-name", value: "dangling.example.com",
			attrs: attr("cname", "gone.example.net", "resolved_count", "0"), rels: []enrichment.Relation{}},
		{name: "aaaa servfail tolerated after a", kind: "domain-name", value: "aaaa-servfail.example.com",
			attrs: attr("resolved_count", "1"), rels: []enrichment.Relation{rel("RESOLVES_TO", "ipv4-addr", "192.0.2.20")}},
		{name: "nxdomain", kind: "domain-name", value: "nothing.example.com", notFound: true},
		{name: "no address records", kind: "domain-name", value: "nodata.example.com", notFound: true},
		{name: "servfail", kind: "domain-name", value: "servfail.example.com", class: enrichment.ClassUnavailable},
		{name: "refused", kind: "domain-name", value: "refused.example.com", class: enrichment.ClassRejected},
		{name: "notimp", kind: "domain-name", value: "notimp.example.com", class: enrichment.ClassRejected},
		{name: "unexpected rcode", kind: "domain-name", value: "badrcode.example.com", class: enrichment.ClassBadResponse},
		{name: "garbage answer", kind: "domain-name", value: "garbage.example.com", class: enrichment.ClassBadResponse},
		{name: "short answer", kind: "domain-name", value: "short.example.com", class: enrichment.ClassBadResponse},
		{name: "answer to another question", kind: "domain-name", value: "mismatch.example.com", class: enrichment.ClassBadResponse,
			secret: []string{"other.example", "192.0.2.1"}},
		{name: "answer with another id", kind: "domain-name", value: "wrongid.example.com", class: enrichment.ClassBadResponse},
		{name: "connection closed without answer", kind: "domain-name", value: "close.example.com", class: enrichment.ClassUnavailable},
		{name: "not a domain name", kind: "domain-name", value: "bad name.example", class: enrichment.ClassRejected},
		{name: "empty label", kind: "domain-name", value: "bad..example", class: enrichment.ClassRejected},
		{name: "label too long", kind: "domain-name", value: strings.Repeat("a", 64) + ".example", class: enrichment.ClassRejected},
	})
}

func TestMaxAnswers(t *testing.T) {
	for _, tc := range []struct {
		max    int
		n4, n6 int
	}{{0, 8, 8}, {3, 2, 1}, {1, 1, 0}, {100, 40, 40}} {
		p, _ := setup(t, func(c *Config) { c.MaxAnswers = tc.max })
		r, err := p.Enrich(context.Background(), enrichment.Request{Kind: "domain-name", Value: "many.example.com"})
		if err != nil {
			t.Fatal(err)
		}
		var n4, n6 int
		for _, rl := range r.Relations {
			if rl.Target.Kind == "ipv4-addr" {
				n4++
			} else {
				n6++
			}
		}
		if n4 != tc.n4 || n6 != tc.n6 {
			t.Errorf("MaxAnswers %d: %d ipv4 + %d ipv6 relations, want %d + %d", tc.max, n4, n6, tc.n4, tc.n6)
		}
		if !reflect.DeepEqual(r.Attributes, attr("resolved_count", "80")) {
			t.Errorf("MaxAnswers %d: attributes %v", tc.max, r.Attributes)
		}
		if tc.max == 3 && (r.Relations[0].Target.Value != "203.0.113.100" || r.Relations[2].Target.Value != "2001:db8:ffff::64") {
			t.Errorf("MaxAnswers 3 kept %v, want the lowest addresses", r.Relations)
		}
	}
}

func TestTimeoutAndCancel(t *testing.T) {
	p, _ := setup(t, func(c *Config) { c.Timeout = 300 * time.Millisecond })
	for _, tc := range []struct {
		name  string
		kind  string
		value string
	}{{"forward", "domain-name", "hang.example.com"}, {"reverse", "ipv4-addr", "192.0.2.77"}} {
		t.Run(tc.name+" config timeout", func(t *testing.T) {
			start := time.Now()
			_, err := p.Enrich(context.Background(), enrichment.Request{Kind: tc.kind, Value: tc.value})
			if enrichment.Classify(err) != enrichment.ClassTimeout {
				t.Fatalf("err = %v, want timeout", err)
			}
			if d := time.Since(start); d < 250*time.Millisecond || d > 3*time.Second {
				t.Fatalf("took %v, want about 300ms", d)
			}
			if strings.Contains(err.Error(), tc.value) {
				t.Fatalf("error quotes the value: %v", err)
			}
		})
	}
	// The caller's context ends the call long before the provider's own
	// 10s timeout would.
	slow, _ := setup(t, func(c *Config) { c.Timeout = 10 * time.Second })
	t.Run("caller deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 80*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := slow.Enrich(ctx, enrichment.Request{Kind: "domain-name", Value: "hang.example.com"})
		if enrichment.Classify(err) != enrichment.ClassTimeout || time.Since(start) > 3*time.Second {
			t.Fatalf("err = %v after %v, want timeout after about 80ms", err, time.Since(start))
		}
	})
	t.Run("caller cancels", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(50*time.Millisecond, cancel)
		start := time.Now()
		_, err := slow.Enrich(ctx, enrichment.Request{Kind: "domain-name", Value: "hang.example.com"})
		if enrichment.Classify(err) != enrichment.ClassCanceled || time.Since(start) > 3*time.Second {
			t.Fatalf("err = %v after %v, want canceled after about 50ms", err, time.Since(start))
		}
	})
	t.Run("already canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := p.Enrich(ctx, enrichment.Request{Kind: "domain-name", Value: "www.example.com"})
		if enrichment.Classify(err) != enrichment.ClassCanceled {
			t.Fatalf("err = %v, want canceled", err)
		}
	})
}

// A resolver that only speaks TLS 1.2 is refused during the handshake: no
// query ever leaves.
func TestTLS12ServerRefused(t *testing.T) {
	ca := enrichtest.NewCA(t)
	cfg := ca.ServerConfig(t)
	cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
	s := startServer(t, cfg)
	p, err := New(Config{Server: s.addr, TLS: ca.ClientConfig(), Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Enrich(context.Background(), enrichment.Request{Kind: "domain-name", Value: "www.example.com"})
	var e *enrichment.Error
	if !errors.As(err, &e) || e.Class != enrichment.ClassUnavailable || !strings.Contains(e.Reason, "TLS handshake") {
		t.Fatalf("err = %v, want unavailable: TLS handshake", err)
	}
	t.Logf("underlying error: %v", e.Err)
	if n := s.queries.Load(); n != 0 {
		t.Fatalf("the server received %d queries", n)
	}
}

func TestUntrustedServerRefused(t *testing.T) {
	serverCA, clientCA := enrichtest.NewCA(t), enrichtest.NewCA(t)
	s := startServer(t, serverCA.ServerConfig(t))
	p, err := New(Config{Server: s.addr, TLS: clientCA.ClientConfig()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Enrich(context.Background(), enrichment.Request{Kind: "ipv4-addr", Value: "192.0.2.10"})
	if enrichment.Classify(err) != enrichment.ClassUnavailable || !strings.Contains(enrichment.Reason(err), "TLS handshake") {
		t.Fatalf("err = %v", err)
	}
	// The wrong server name fails verification too.
	cfg := serverCA.ClientConfig()
	cfg.ServerName = "resolver.example.net"
	p, err = New(Config{Server: s.addr, TLS: cfg})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Enrich(context.Background(), enrichment.Request{Kind: "ipv4-addr", Value: "192.0.2.10"})
	if enrichment.Classify(err) != enrichment.ClassUnavailable {
		t.Fatalf("err = %v", err)
	}
	if n := s.queries.Load(); n != 0 {
		t.Fatalf("the server received %d queries", n)
	}
}

func TestConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ca := enrichtest.NewCA(t)
	p, err := New(Config{Server: addr, TLS: ca.ClientConfig()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Enrich(context.Background(), enrichment.Request{Kind: "domain-name", Value: "www.example.com"})
	if enrichment.Classify(err) != enrichment.ClassUnavailable || enrichment.Reason(err) != "the resolver could not be reached" {
		t.Fatalf("err = %v", err)
	}
}

func TestConcurrentEnrich(t *testing.T) {
	p, s := setup(t, nil)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			for range 5 {
				req := enrichment.Request{Kind: "domain-name", Value: "alias.example.com"}
				if i%2 == 1 {
					req = enrichment.Request{Kind: "ipv4-addr", Value: "192.0.2.10"}
				}
				r, err := p.Enrich(context.Background(), req)
				if err != nil || len(r.Relations) == 0 {
					t.Errorf("%v: %+v, %v", req, r, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := s.queries.Load(); n != 8*5*2+8*5 {
		t.Fatalf("%d queries, want %d", n, 8*5*2+8*5)
	}
}

func TestConfig(t *testing.T) {
	ca := enrichtest.NewCA(t)
	good := ca.ClientConfig()
	tls12 := ca.ClientConfig()
	tls12.MinVersion = tls.VersionTLS12
	maxOld := &tls.Config{MinVersion: tls.VersionTLS13, MaxVersion: tls.VersionTLS12}
	insecure := ca.ClientConfig()
	insecure.InsecureSkipVerify = true
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string
	}{
		{"no server", Config{TLS: good}, []string{"no server"}},
		{"no port", Config{Server: "127.0.0.1", TLS: good}, []string{"host:port"}},
		{"bad port", Config{Server: "127.0.0.1:dot", TLS: good}, []string{"port"}},
		{"tls 1.2 allowed", Config{Server: "127.0.0.1:853", TLS: tls12}, []string{"TLS 1.3 required"}},
		{"max below 1.3", Config{Server: "127.0.0.1:853", TLS: maxOld}, []string{"MaxVersion"}},
		{"insecure", Config{Server: "127.0.0.1:853", TLS: insecure}, []string{"InsecureSkipVerify"}},
		{"everything at once", Config{Kinds: []string{"url"}, TLS: tls12, Timeout: -1, MaxAnswers: -1},
			[]string{`kind "url"`, "no server", "TLS 1.3 required", "timeout", "max answers"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}

	p, err := New(Config{Server: "dns.example.net:853", TLS: good})
	if err != nil {
		t.Fatal(err)
	}
	if p.Name() != "dns" || p.Type() != "dns" || !reflect.DeepEqual(p.Kinds(), []string{"ipv4-addr", "ipv6-addr", "domain-name"}) {
		t.Fatalf("defaults: %q %q %v", p.Name(), p.Type(), p.Kinds())
	}
	if p.tls.ServerName != "dns.example.net" || p.tls.MinVersion != tls.VersionTLS13 || p.tls.MaxVersion != tls.VersionTLS13 ||
		p.timeout != DefaultTimeout || p.max != DefaultMaxAnswers {
		t.Fatalf("derived settings: %q %x %x %v %d", p.tls.ServerName, p.tls.MinVersion, p.tls.MaxVersion, p.timeout, p.max)
	}
	if good.ServerName != "" || good.ClientSessionCache != nil {
		t.Fatal("New modified the caller's TLS configuration")
	}
	named := ca.ClientConfig()
	named.ServerName = "resolver.internal"
	p, err = New(Config{Server: "[::1]:853", TLS: named, Kinds: []string{"domain-name"}})
	if err != nil {
		t.Fatal(err)
	}
	if p.tls.ServerName != "resolver.internal" || !reflect.DeepEqual(p.Kinds(), []string{"domain-name"}) {
		t.Fatalf("ServerName %q, kinds %v", p.tls.ServerName, p.Kinds())
	}
	if p, err := New(Config{Server: "9.9.9.9:853"}); err != nil || p.tls.MinVersion != tls.VersionTLS13 || p.tls.ServerName != "9.9.9.9" {
		t.Fatalf("nil TLS: %v", err)
	}
	for _, l := range []string{RelPTR, RelResolvesTo} {
		if !edgeLabel.MatchString(l) {
			t.Fatalf("edge label %q is invalid", l)
		}
	}
}

func TestReverseName(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.10":       "10.2.0.192.in-addr.arpa.",
		"::ffff:192.0.2.1": "1.2.0.192.in-addr.arpa.",
		"2001:db8::10":     "0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.",
	} {
		if got := reverseName(mustAddr(t, in)); got != want {
			t.Errorf("reverseName(%s) = %s, want %s", in, got, want)
		}
	}
}

func mustAddr(t *testing.T, s string) netip.Addr {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
