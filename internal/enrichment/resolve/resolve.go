package resolve

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/heimdallhub/heimdall/internal/enrichment"
)

// Observable kinds the provider accepts and produces.
const (
	KindIPv4   = "ipv4-addr"
	KindIPv6   = "ipv6-addr"
	KindDomain = "domain-name"
)

// Edge labels of the relations the provider produces.
const (
	// RelPTR runs from an address to a name its PTR records give.
	RelPTR = "PTR"
	// RelResolvesTo runs from a domain to an address its A/AAAA records
	// give.
	RelResolvesTo = "RESOLVES_TO"
)

// Defaults for zero Config fields.
const (
	DefaultTimeout    = 5 * time.Second
	DefaultMaxAnswers = 16
)

// maxChain bounds the CNAME chain followed inside one answer.
const maxChain = 16

// Config configures a Provider.
type Config struct {
	// Name is the configured provider name (default "dns").
	Name string
	// Kinds are the accepted kinds, a subset of ipv4-addr, ipv6-addr and
	// domain-name (default all three).
	Kinds []string
	// Server is the DNS-over-TLS resolver, host:port (for example
	// 127.0.0.1:853 or dns.example.net:853).
	Server string
	// TLS is the client configuration: TLS 1.3 only (MinVersion must be
	// tls.VersionTLS13), verifying the server. ServerName defaults to
	// Server's host. Nil means TLS 1.3 with the system roots.
	TLS *tls.Config
	// Timeout caps each Enrich call: dial, handshake and queries (default
	// 5s). The caller's context may end it sooner.
	Timeout time.Duration
	// MaxAnswers caps the names or addresses reported per call (default
	// 16).
	MaxAnswers int
}

// Validate reports every problem of c.
func (c Config) Validate() error {
	var errs []error
	for _, k := range c.Kinds {
		if k != KindIPv4 && k != KindIPv6 && k != KindDomain {
			errs = append(errs, fmt.Errorf("dns: kind %q is not supported (ipv4-addr, ipv6-addr, domain-name)", k))
		}
	}
	if c.Server == "" {
		errs = append(errs, errors.New("dns: no server configured (host:port of a DNS-over-TLS resolver)"))
	} else if host, port, err := net.SplitHostPort(c.Server); err != nil || host == "" {
		errs = append(errs, errors.New("dns: server must be host:port"))
	} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		errs = append(errs, errors.New("dns: server port must be a number from 1 to 65535"))
	}
	if t := c.TLS; t != nil {
		if t.MinVersion < tls.VersionTLS13 {
			errs = append(errs, errors.New("dns: TLS 1.3 required (set MinVersion to TLS 1.3)"))
		}
		if t.MaxVersion != 0 && t.MaxVersion < tls.VersionTLS13 {
			errs = append(errs, errors.New("dns: TLS MaxVersion is below TLS 1.3"))
		}
		if t.InsecureSkipVerify {
			errs = append(errs, errors.New("dns: InsecureSkipVerify is not allowed; trust the resolver's CA instead"))
		}
	}
	if c.Timeout < 0 {
		errs = append(errs, errors.New("dns: timeout must not be negative"))
	}
	if c.MaxAnswers < 0 {
		errs = append(errs, errors.New("dns: max answers must not be negative"))
	}
	return errors.Join(errs...)
}

// Provider resolves over DNS over TLS. It holds no connection between
// calls (TLS sessions are resumed), so it needs no Close; it is safe for
// concurrent use.
type Provider struct {
	name    string
	kinds   []string
	server  string
	tls     *tls.Config
	timeout time.Duration
	max     int
}

var _ enrichment.Provider = (*Provider)(nil)

// New validates cfg and returns the provider. It does not contact the
// server.
func New(cfg Config) (*Provider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Provider{
		name:    cfg.Name,
		kinds:   slices.Clone(cfg.Kinds),
		server:  cfg.Server,
		timeout: cfg.Timeout,
		max:     cfg.MaxAnswers,
	}
	if p.name == "" {
		p.name = "dns"
	}
	if len(p.kinds) == 0 {
		p.kinds = []string{KindIPv4, KindIPv6, KindDomain}
	}
	if p.timeout == 0 {
		p.timeout = DefaultTimeout
	}
	if p.max == 0 {
		p.max = DefaultMaxAnswers
	}
	if cfg.TLS != nil {
		p.tls = cfg.TLS.Clone()
	} else {
		p.tls = &tls.Config{}
	}
	p.tls.MinVersion, p.tls.MaxVersion = tls.VersionTLS13, tls.VersionTLS13
	if p.tls.ServerName == "" {
		host, _, _ := net.SplitHostPort(cfg.Server)
		p.tls.ServerName = host
	}
	if p.tls.ClientSessionCache == nil {
		p.tls.ClientSessionCache = tls.NewLRUClientSessionCache(16)
	}
	return p, nil
}

// Name implements enrichment.Provider.
func (p *Provider) Name() string { return p.name }

// Type implements enrichment.Provider: "dns".
func (p *Provider) Type() string { return "dns" }

// Kinds implements enrichment.Provider.
func (p *Provider) Kinds() []string { return slices.Clone(p.kinds) }

// Enrich implements enrichment.Provider.
func (p *Provider) Enrich(ctx context.Context, req enrichment.Request) (enrichment.Result, error) {
	if !slices.Contains(p.kinds, req.Kind) {
		return enrichment.Result{}, enrichment.Errorf(enrichment.ClassRejected, "the provider does not accept this kind")
	}
	var qname string
	switch req.Kind {
	case KindIPv4, KindIPv6:
		addr, err := netip.ParseAddr(req.Value)
		if err != nil || addr.Zone() != "" {
			return enrichment.Result{}, enrichment.Errorf(enrichment.ClassRejected, "the value is not an IP address")
		}
		if (req.Kind == KindIPv4) != addr.Is4() {
			return enrichment.Result{}, enrichment.Errorf(enrichment.ClassRejected, "the value does not match its kind")
		}
		qname = reverseName(addr)
	case KindDomain:
		name, ok := canonicalName(req.Value)
		if !ok {
			return enrichment.Result{}, enrichment.Errorf(enrichment.ClassRejected, "the value is not a domain name")
		}
		qname = name + "."
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	conn, err := p.dial(ctx)
	if err != nil {
		return enrichment.Result{}, err
	}
	defer conn.Close()
	if req.Kind == KindDomain {
		return p.forward(ctx, conn, qname)
	}
	return p.reverse(ctx, conn, qname)
}

// reverse answers an address from its PTR records.
func (p *Provider) reverse(ctx context.Context, conn *conn, qname string) (enrichment.Result, error) {
	ans, err := conn.query(ctx, qname, dns.TypePTR)
	if err != nil {
		return enrichment.Result{}, err
	}
	var names []string
	bad := 0
	for _, rr := range ans.records {
		n, ok := canonicalName(rr.(*dns.PTR).Ptr)
		if !ok {
			bad++
			continue
		}
		names = append(names, n)
	}
	if len(names) == 0 {
		if bad > 0 {
			return enrichment.Result{}, enrichment.Errorf(enrichment.ClassBadResponse, "the resolver answered names that are not host names")
		}
		return enrichment.Result{NotFound: true}, nil
	}
	slices.Sort(names)
	names = slices.Compact(names)
	names = names[:min(len(names), p.max)]
	out := enrichment.Result{
		Attributes: make([]enrichment.Attribute, 0, len(names)),
		Relations:  make([]enrichment.Relation, 0, len(names)),
	}
	for _, n := range names {
		out.Attributes = append(out.Attributes, enrichment.Attribute{Name: "ptr", Value: n})
		out.Relations = append(out.Relations, enrichment.Relation{Type: RelPTR, Target: enrichment.Target{Kind: KindDomain, Value: n}})
	}
	return out, nil
}

// forward answers a domain from its A and AAAA records.
func (p *Provider) forward(ctx context.Context, conn *conn, qname string) (enrichment.Result, error) {
	a, err := conn.query(ctx, qname, dns.TypeA)
	if err != nil {
		return enrichment.Result{}, err
	}
	var v4, v6 []netip.Addr
	for _, rr := range a.records {
		if ip, ok := netip.AddrFromSlice(rr.(*dns.A).A); ok {
			v4 = append(v4, ip.Unmap())
		}
	}
	chain := a.chain
	if !a.nxdomain || len(a.chain) > 0 {
		aaaa, err := conn.query(ctx, qname, dns.TypeAAAA)
		switch {
		case err == nil:
			for _, rr := range aaaa.records {
				if ip, ok := netip.AddrFromSlice(rr.(*dns.AAAA).AAAA); ok && ip.Is6() {
					v6 = append(v6, ip)
				}
			}
			for _, c := range aaaa.chain {
				if !slices.Contains(chain, c) {
					chain = append(chain, c)
				}
			}
		case len(v4) > 0 && (aaaa.rcode == dns.RcodeServerFailure || aaaa.rcode == dns.RcodeRefused):
			// Keep the A answer.
		default:
			return enrichment.Result{}, err
		}
	}
	if len(v4) == 0 && len(v6) == 0 && len(chain) == 0 {
		return enrichment.Result{NotFound: true}, nil
	}
	slices.SortFunc(v4, netip.Addr.Compare)
	slices.SortFunc(v6, netip.Addr.Compare)
	v4, v6 = slices.Compact(v4), slices.Compact(v6)
	total := len(v4) + len(v6)
	// Share the cap: each family keeps at least half of it when it has
	// that many.
	n4 := min(len(v4), p.max-min(len(v6), p.max/2))
	n6 := min(len(v6), p.max-n4)
	out := enrichment.Result{
		Attributes: make([]enrichment.Attribute, 0, len(chain)+1),
		Relations:  make([]enrichment.Relation, 0, n4+n6),
	}
	for _, c := range chain {
		out.Attributes = append(out.Attributes, enrichment.Attribute{Name: "cname", Value: c})
	}
	out.Attributes = append(out.Attributes, enrichment.Attribute{Name: "resolved_count", Value: strconv.Itoa(total)})
	for _, ip := range v4[:n4] {
		out.Relations = append(out.Relations, enrichment.Relation{Type: RelResolvesTo, Target: enrichment.Target{Kind: KindIPv4, Value: ip.String()}})
	}
	for _, ip := range v6[:n6] {
		out.Relations = append(out.Relations, enrichment.Relation{Type: RelResolvesTo, Target: enrichment.Target{Kind: KindIPv6, Value: ip.String()}})
	}
	return out, nil
}

// reverseName is the in-addr.arpa or ip6.arpa name of addr.
func reverseName(addr netip.Addr) string {
	var b strings.Builder
	if addr.Is4() || addr.Is4In6() {
		a := addr.Unmap().As4()
		for i := 3; i >= 0; i-- {
			b.WriteString(strconv.Itoa(int(a[i])))
			b.WriteByte('.')
		}
		b.WriteString("in-addr.arpa.")
		return b.String()
	}
	const hex = "0123456789abcdef"
	a := addr.As16()
	for i := 15; i >= 0; i-- {
		b.WriteByte(hex[a[i]&0xf])
		b.WriteByte('.')
		b.WriteByte(hex[a[i]>>4])
		b.WriteByte('.')
	}
	b.WriteString("ip6.arpa.")
	return b.String()
}

// canonicalName returns s lower-cased without its trailing dot when it is a
// host name: 1 to 253 characters of labels of 1 to 63 letters, digits, '-'
// or '_'.
func canonicalName(s string) (string, bool) {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return "", false
	}
	label := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			if label == 0 {
				return "", false
			}
			label = 0
			continue
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return "", false
		}
		label++
		if label > 63 {
			return "", false
		}
	}
	if label == 0 {
		return "", false
	}
	return strings.ToLower(s), true
}

// conn is one DNS-over-TLS connection.
type conn struct {
	raw  net.Conn
	tls  *tls.Conn
	dns  *dns.Conn
	stop func() bool
}

// dial connects and completes a TLS 1.3 handshake within ctx. The returned
// connection is closed as soon as ctx ends.
func (p *Provider) dial(ctx context.Context) (*conn, error) {
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", p.server)
	if err != nil {
		return nil, netError(ctx, err, "the resolver could not be reached")
	}
	tc := tls.Client(raw, p.tls)
	if err := tc.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, netError(ctx, err, "the TLS handshake with the resolver failed")
	}
	if tc.ConnectionState().Version != tls.VersionTLS13 {
		raw.Close()
		return nil, enrichment.Errorf(enrichment.ClassUnavailable, "the resolver did not negotiate TLS 1.3")
	}
	c := &conn{raw: raw, tls: tc, dns: &dns.Conn{Conn: tc}}
	// Closing the socket unblocks a read or write in progress at once.
	c.stop = context.AfterFunc(ctx, func() { raw.Close() })
	return c, nil
}

func (c *conn) Close() {
	c.stop()
	_ = c.raw.SetDeadline(time.Now().Add(100 * time.Millisecond)) // bound the close_notify
	_ = c.tls.Close()
}

// answer is the part of a response the provider uses.
type answer struct {
	rcode    int
	nxdomain bool
	chain    []string // CNAME targets from the question name on, canonical
	records  []dns.RR // records of the question type owned by the name or the chain
}

// rcodeError classifies a failure response code; nil for NOERROR and
// NXDOMAIN.
func rcodeError(rcode int) *enrichment.Error {
	switch rcode {
	case dns.RcodeSuccess, dns.RcodeNameError:
		return nil
	case dns.RcodeServerFailure:
		return enrichment.Errorf(enrichment.ClassUnavailable, "the resolver answered SERVFAIL")
	case dns.RcodeRefused, dns.RcodeNotImplemented, dns.RcodeFormatError:
		return enrichment.Errorf(enrichment.ClassRejected, "the resolver answered %s", dns.RcodeToString[rcode])
	}
	return enrichment.Errorf(enrichment.ClassBadResponse, "the resolver answered an unexpected response code")
}

// query sends one question and reads its answer. A failure response code
// is returned as an answer with rcode set and an error from rcodeError.
func (c *conn) query(ctx context.Context, qname string, qtype uint16) (answer, error) {
	m := new(dns.Msg)
	m.SetQuestion(qname, qtype)
	m.RecursionDesired = true
	if dl, ok := ctx.Deadline(); ok {
		_ = c.raw.SetDeadline(dl)
	}
	if err := c.dns.WriteMsg(m); err != nil {
		return answer{}, netError(ctx, err, "sending the query to the resolver failed")
	}
	buf, err := c.dns.ReadMsgHeader(nil)
	if err != nil {
		if errors.Is(err, dns.ErrShortRead) {
			return answer{}, &enrichment.Error{Class: enrichment.ClassBadResponse, Reason: "the resolver's answer is too short", Err: err}
		}
		return answer{}, netError(ctx, err, "reading the resolver's answer failed")
	}
	r := new(dns.Msg)
	if err := r.Unpack(buf); err != nil {
		return answer{}, &enrichment.Error{Class: enrichment.ClassBadResponse, Reason: "the resolver's answer could not be parsed", Err: err}
	}
	if r.Id != m.Id || !r.Response || r.Opcode != dns.OpcodeQuery || len(r.Question) != 1 ||
		r.Question[0].Qtype != qtype || r.Question[0].Qclass != dns.ClassINET || !strings.EqualFold(r.Question[0].Name, qname) {
		return answer{}, enrichment.Errorf(enrichment.ClassBadResponse, "the resolver's answer does not match the question")
	}
	ans := answer{rcode: r.Rcode, nxdomain: r.Rcode == dns.RcodeNameError}
	if err := rcodeError(r.Rcode); err != nil {
		return ans, err
	}
	// Follow the CNAME chain from the question name.
	owners := map[string]bool{strings.ToLower(qname): true}
	cur := strings.ToLower(qname)
	for range maxChain {
		next := ""
		for _, rr := range r.Answer {
			if cn, ok := rr.(*dns.CNAME); ok && cn.Hdr.Class == dns.ClassINET && strings.EqualFold(cn.Hdr.Name, cur) {
				next = strings.ToLower(dns.Fqdn(cn.Target))
				break
			}
		}
		if next == "" || owners[next] {
			break
		}
		owners[next] = true
		cur = next
		if n, ok := canonicalName(next); ok {
			ans.chain = append(ans.chain, n)
		}
	}
	for _, rr := range r.Answer {
		h := rr.Header()
		if h.Rrtype == qtype && h.Class == dns.ClassINET && owners[strings.ToLower(h.Name)] {
			ans.records = append(ans.records, rr)
		}
	}
	return ans, nil
}

// netError classifies a transport failure; reason is used unless the
// failure is the context's or a timeout.
func netError(ctx context.Context, err error, reason string) *enrichment.Error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		if errors.Is(ctxErr, context.DeadlineExceeded) {
			return &enrichment.Error{Class: enrichment.ClassTimeout, Reason: "the resolver did not answer in time", Err: err}
		}
		return &enrichment.Error{Class: enrichment.ClassCanceled, Reason: "the call was canceled", Err: err}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &enrichment.Error{Class: enrichment.ClassTimeout, Reason: "the resolver did not answer in time", Err: err}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		reason = "the resolver closed the connection"
	}
	return &enrichment.Error{Class: enrichment.ClassUnavailable, Reason: reason, Err: err}
}
