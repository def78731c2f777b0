package rdap

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/heimdallhub/heimdall/internal/enrichment"
)

// Observable kinds the provider accepts and produces.
const (
	KindIPv4   = "ipv4-addr"
	KindIPv6   = "ipv6-addr"
	KindDomain = "domain-name"
	KindAS     = "autonomous-system"
)

// RelHasNameserver runs from a domain to each of its name servers.
const RelHasNameserver = "HAS_NAMESERVER"

// Attribute names.
const (
	AttrHandle        = "handle"
	AttrName          = "name"
	AttrType          = "type"
	AttrCountry       = "country"
	AttrCIDR          = "cidr"
	AttrStartAddress  = "start_address"
	AttrEndAddress    = "end_address"
	AttrParentHandle  = "parent_handle"
	AttrStatus        = "status"
	AttrRegisteredAt  = "registered_at"
	AttrLastChangedAt = "last_changed_at"
	AttrRegistrar     = "registrar"
	AttrNameserver    = "nameserver"
	AttrOrg           = "org"
)

// Version is the Result.Version of every answer.
const Version = "rdap"

// DefaultMaxBody bounds an answer's body when Config.MaxBody is zero.
const DefaultMaxBody = 1 << 20

const (
	maxDepth     = 64  // JSON nesting accepted
	maxText      = 256 // bytes of one text attribute
	maxRepeated  = 16  // cidr, status and nameserver values kept
	maxRedirects = 5
)

// Config configures a Provider.
type Config struct {
	// Name is the configured provider name (default "rdap").
	Name string
	// Kinds are the accepted kinds, a subset of ipv4-addr, ipv6-addr,
	// domain-name and autonomous-system (default all four).
	Kinds []string
	// BaseURL is the RDAP service, an https URL such as
	// https://rdap.example/ or https://rdap.example/rdap/; queries go to
	// {BaseURL}/ip/…, {BaseURL}/domain/… and {BaseURL}/autnum/….
	BaseURL string
	// Client makes every request. The caller builds it TLS 1.3 only; a
	// *http.Transport that allows older versions or skips verification is
	// refused. Required.
	Client *http.Client
	// MaxBody bounds an answer's body in bytes (default 1 MiB).
	MaxBody int64
}

func (c *Config) setDefaults() {
	if c.Name == "" {
		c.Name = "rdap"
	}
	if len(c.Kinds) == 0 {
		c.Kinds = []string{KindIPv4, KindIPv6, KindDomain, KindAS}
	}
	if c.MaxBody == 0 {
		c.MaxBody = DefaultMaxBody
	}
}

// Validate reports every problem of c (after defaults: zero fields are
// fine where a default exists).
func (c Config) Validate() error {
	var errs []error
	for _, k := range c.Kinds {
		if k != KindIPv4 && k != KindIPv6 && k != KindDomain && k != KindAS {
			errs = append(errs, fmt.Errorf("rdap: kind %q is not supported (ipv4-addr, ipv6-addr, domain-name, autonomous-system)", k))
		}
	}
	if c.BaseURL == "" {
		errs = append(errs, errors.New("rdap: no base URL configured"))
	} else if _, err := parseBase(c.BaseURL); err != nil {
		errs = append(errs, err)
	}
	if err := checkClient(c.Client); err != nil {
		errs = append(errs, fmt.Errorf("rdap: %w", err))
	}
	if c.MaxBody < 0 {
		errs = append(errs, errors.New("rdap: max body must not be negative"))
	}
	return errors.Join(errs...)
}

func parseBase(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return nil, errors.New("rdap: the base URL does not parse")
	case u.Scheme != "https":
		return nil, errors.New("rdap: the base URL must be https")
	case u.Host == "" || u.Hostname() == "":
		return nil, errors.New("rdap: the base URL has no host")
	case u.User != nil:
		return nil, errors.New("rdap: the base URL must not hold credentials")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, errors.New("rdap: the base URL must not have a query or fragment")
	}
	return u, nil
}

// checkClient refuses a missing client and a transport that visibly allows
// less than TLS 1.3 or skips verification.
func checkClient(c *http.Client) error {
	if c == nil {
		return errors.New("no HTTP client (build one that speaks TLS 1.3 only)")
	}
	if c.Transport == nil || c.Transport == http.DefaultTransport {
		return errors.New("the HTTP client uses the default transport, which allows TLS below 1.3")
	}
	if t, ok := c.Transport.(*http.Transport); ok {
		switch tc := t.TLSClientConfig; {
		case tc == nil || tc.MinVersion < tls.VersionTLS13:
			return errors.New("the HTTP client's transport must require TLS 1.3 (MinVersion)")
		case tc.InsecureSkipVerify:
			return errors.New("the HTTP client's transport must verify certificates")
		}
	}
	return nil
}

// Provider queries one RDAP service. It is safe for concurrent use.
type Provider struct {
	name    string
	kinds   []string
	base    *url.URL
	client  *http.Client
	maxBody int64
	now     func() time.Time
}

var _ enrichment.Provider = (*Provider)(nil)

// New validates cfg and returns the provider. It does not contact the
// service.
func New(cfg Config) (*Provider, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	base, _ := parseBase(cfg.BaseURL)
	base.Path = strings.TrimRight(base.Path, "/")
	base.RawPath = ""
	return &Provider{
		name:    cfg.Name,
		kinds:   slices.Clone(cfg.Kinds),
		base:    base,
		client:  enrichment.Redirects(cfg.Client, maxRedirects, false),
		maxBody: cfg.MaxBody,
		now:     time.Now,
	}, nil
}

// Name implements enrichment.Provider.
func (p *Provider) Name() string { return p.name }

// Type implements enrichment.Provider: "rdap".
func (p *Provider) Type() string { return "rdap" }

// Kinds implements enrichment.Provider.
func (p *Provider) Kinds() []string { return slices.Clone(p.kinds) }

// Enrich implements enrichment.Provider.
func (p *Provider) Enrich(ctx context.Context, req enrichment.Request) (enrichment.Result, error) {
	if !slices.Contains(p.kinds, req.Kind) {
		return enrichment.Result{}, enrichment.Errorf(enrichment.ClassRejected, "the provider does not accept this kind")
	}
	segment, value, class, err := query(req)
	if err != nil {
		return enrichment.Result{}, err
	}
	u := *p.base
	u.Path = p.base.Path + "/" + segment + "/" + value
	body, pause, notFound, err := p.get(ctx, u.String())
	if err != nil {
		return enrichment.Result{}, err
	}
	if notFound {
		return enrichment.Result{NotFound: true, Version: Version, Pause: pause}, nil
	}
	var obj object
	if err := decode(body, &obj); err != nil {
		return enrichment.Result{}, err
	}
	if !strings.EqualFold(strings.TrimSpace(obj.ObjectClassName), class) {
		return enrichment.Result{}, enrichment.Errorf(enrichment.ClassBadResponse, "the answer is not an RDAP %s object", class)
	}
	res := extract(&obj, class)
	res.Version = Version
	res.Pause = pause
	return res, nil
}

// query checks req's value and returns the path segment, the value as it
// goes into the path, and the expected objectClassName.
func query(req enrichment.Request) (segment, value, class string, err error) {
	switch req.Kind {
	case KindIPv4, KindIPv6:
		addr, perr := netip.ParseAddr(req.Value)
		if perr != nil || addr.Zone() != "" || (req.Kind == KindIPv4) != addr.Is4() {
			return "", "", "", enrichment.Errorf(enrichment.ClassRejected, "the value is not an IP address of its kind")
		}
		return "ip", addr.String(), "ip network", nil
	case KindDomain:
		name, ok := hostName(req.Value)
		if !ok {
			return "", "", "", enrichment.Errorf(enrichment.ClassRejected, "the value is not a domain name")
		}
		return "domain", name, "domain", nil
	case KindAS:
		v := req.Value
		if len(v) > 2 && strings.EqualFold(v[:2], "as") {
			v = v[2:]
		}
		n, perr := strconv.ParseUint(v, 10, 32)
		if perr != nil {
			return "", "", "", enrichment.Errorf(enrichment.ClassRejected, "the value is not an AS number")
		}
		return "autnum", strconv.FormatUint(n, 10), "autnum", nil
	}
	return "", "", "", enrichment.Errorf(enrichment.ClassRejected, "the provider does not accept this kind")
}

// hostName returns s as a lower-case host name without the trailing dot,
// or false if it is not one (letters, digits, '-' and '_' in labels of 1 to
// 63 bytes, 253 bytes in all).
func hostName(s string) (string, bool) {
	s = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(s), "."))
	if s == "" || len(s) > 253 {
		return "", false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 {
			return "", false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return "", false
			}
		}
	}
	return s, true
}

// get fetches u; it returns the body of a 2xx answer, the quota pause, and
// notFound for a 404.
func (p *Provider) get(ctx context.Context, u string) (body []byte, pause time.Duration, notFound bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, false, &enrichment.Error{Class: enrichment.ClassRejected, Reason: "the request could not be built"}
	}
	req.Header.Set("Accept", "application/rdap+json, application/json;q=0.9")
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, 0, false, enrichment.TransportError(ctx, err)
	}
	defer enrichment.CloseBody(resp)
	if ctx.Err() != nil { // an answer that raced the deadline is not used
		return nil, 0, false, enrichment.TransportError(ctx, ctx.Err())
	}
	now := p.now()
	if resp.StatusCode == http.StatusNotFound {
		return nil, enrichment.QuotaPause(resp.Header, now), true, nil
	}
	if e := enrichment.HTTPStatusError(resp, now); e != nil {
		return nil, 0, false, e
	}
	if !enrichment.JSONContentType(resp.Header.Get("Content-Type")) {
		return nil, 0, false, enrichment.Errorf(enrichment.ClassBadResponse, "the answer is not JSON")
	}
	body, err = enrichment.ReadBody(ctx, resp, p.maxBody)
	if err != nil {
		return nil, 0, false, err
	}
	if ctx.Err() != nil {
		return nil, 0, false, enrichment.TransportError(ctx, ctx.Err())
	}
	return body, enrichment.QuotaPause(resp.Header, now), false, nil
}

// object is the part of an RDAP answer the provider reads. Contacts'
// vCards stay raw and only the two organisational cases are parsed.
type object struct {
	ObjectClassName string   `json:"objectClassName"`
	Handle          string   `json:"handle"`
	Name            string   `json:"name"`
	LDHName         string   `json:"ldhName"`
	Type            string   `json:"type"`
	Country         string   `json:"country"`
	StartAddress    string   `json:"startAddress"`
	EndAddress      string   `json:"endAddress"`
	ParentHandle    string   `json:"parentHandle"`
	Status          []string `json:"status"`
	Events          []struct {
		Action string `json:"eventAction"`
		Date   string `json:"eventDate"`
	} `json:"events"`
	CIDRs []struct {
		V4Prefix string `json:"v4prefix"`
		V6Prefix string `json:"v6prefix"`
		Length   *int   `json:"length"`
	} `json:"cidr0_cidrs"`
	Nameservers []struct {
		LDHName string `json:"ldhName"`
	} `json:"nameservers"`
	Entities []entity `json:"entities"`
}

type entity struct {
	Roles      []string        `json:"roles"`
	VCardArray json.RawMessage `json:"vcardArray"`
}

func (e entity) hasRole(role string) bool {
	return slices.ContainsFunc(e.Roles, func(r string) bool { return strings.EqualFold(strings.TrimSpace(r), role) })
}

type builder struct {
	attrs []enrichment.Attribute
	seen  map[enrichment.Attribute]bool
	count map[string]int
}

func (b *builder) add(name, value string) {
	if value == "" {
		return
	}
	a := enrichment.Attribute{Name: name, Value: value}
	if b.seen[a] || b.count[name] >= maxRepeated {
		return
	}
	b.seen[a] = true
	b.count[name]++
	b.attrs = append(b.attrs, a)
}

// extract turns obj into attributes and relations (see the package
// documentation for what is taken and what never is).
func extract(obj *object, class string) enrichment.Result {
	b := &builder{seen: map[enrichment.Attribute]bool{}, count: map[string]int{}}
	b.add(AttrHandle, text(obj.Handle))
	switch class {
	case "domain":
		if n, ok := hostName(obj.LDHName); ok {
			b.add(AttrName, n)
		}
	default:
		b.add(AttrName, text(obj.Name))
		b.add(AttrType, text(obj.Type))
		b.add(AttrCountry, country(obj.Country))
	}
	if class == "ip network" {
		b.add(AttrStartAddress, address(obj.StartAddress))
		b.add(AttrEndAddress, address(obj.EndAddress))
		for _, c := range obj.CIDRs {
			b.add(AttrCIDR, prefix(c.V4Prefix, c.V6Prefix, c.Length))
		}
		b.add(AttrParentHandle, text(obj.ParentHandle))
	}
	for _, s := range obj.Status {
		b.add(AttrStatus, text(s))
	}
	var registered, changed string
	for _, e := range obj.Events {
		var name string
		switch strings.ToLower(strings.TrimSpace(e.Action)) {
		case "registration":
			name = AttrRegisteredAt
		case "last changed":
			name = AttrLastChangedAt
		default:
			continue
		}
		t, err := time.Parse(time.RFC3339, strings.TrimSpace(e.Date))
		if err != nil {
			continue
		}
		d := t.UTC().Format(time.RFC3339)
		if name == AttrRegisteredAt && registered == "" {
			registered = d
		} else if name == AttrLastChangedAt && changed == "" {
			changed = d
		}
	}
	b.add(AttrRegisteredAt, registered)
	b.add(AttrLastChangedAt, changed)
	var rels []enrichment.Relation
	switch class {
	case "domain":
		for _, e := range obj.Entities {
			if !e.hasRole("registrar") {
				continue
			}
			if fn, kind := vcard(e.VCardArray); fn != "" && kind != "individual" {
				b.add(AttrRegistrar, fn)
				break
			}
		}
		for _, ns := range obj.Nameservers {
			n, ok := hostName(ns.LDHName)
			if !ok || b.count[AttrNameserver] >= maxRepeated || b.seen[enrichment.Attribute{Name: AttrNameserver, Value: n}] {
				continue
			}
			b.add(AttrNameserver, n)
			rels = append(rels, enrichment.Relation{Type: RelHasNameserver, Target: enrichment.Target{Kind: KindDomain, Value: n}})
		}
	case "ip network":
		for _, e := range obj.Entities {
			if !e.hasRole("registrant") {
				continue
			}
			if fn, kind := vcard(e.VCardArray); fn != "" && kind == "org" {
				b.add(AttrOrg, fn)
				break
			}
		}
	}
	return enrichment.Result{Attributes: b.attrs, Relations: rels}
}

// vcard reads the fn and kind properties of a jCard (RFC 7095):
// ["vcard", [[name, params, type, value], …]]. Nothing else is read.
func vcard(raw json.RawMessage) (fn, kind string) {
	var card []json.RawMessage
	if len(raw) == 0 || json.Unmarshal(raw, &card) != nil || len(card) != 2 {
		return "", ""
	}
	var tag string
	if json.Unmarshal(card[0], &tag) != nil || tag != "vcard" {
		return "", ""
	}
	var props [][]json.RawMessage
	if json.Unmarshal(card[1], &props) != nil {
		return "", ""
	}
	for i, prop := range props {
		if i == 256 {
			break
		}
		if len(prop) < 4 {
			continue
		}
		var name, value string
		if json.Unmarshal(prop[0], &name) != nil || json.Unmarshal(prop[3], &value) != nil {
			continue
		}
		switch strings.ToLower(name) {
		case "fn":
			if fn == "" {
				fn = text(value)
			}
		case "kind":
			if kind == "" {
				kind = strings.ToLower(strings.TrimSpace(value))
			}
		}
	}
	return fn, kind
}

// text cleans a free-text value: valid UTF-8, no control characters,
// trimmed, at most maxText bytes.
func text(s string) string {
	s = strings.ToValidUTF8(s, "")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0x2028 || r == 0x2029 {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) > maxText {
		s = strings.ToValidUTF8(s[:maxText], "")
		s = strings.TrimSpace(s)
	}
	return s
}

func country(s string) string {
	s = strings.TrimSpace(s)
	if len(s) != 2 {
		return ""
	}
	for i := 0; i < 2; i++ {
		c := s[i] | 0x20
		if c < 'a' || c > 'z' {
			return ""
		}
	}
	return strings.ToUpper(s)
}

func address(s string) string {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil || a.Zone() != "" {
		return ""
	}
	return a.String()
}

func prefix(v4, v6 string, length *int) string {
	if length == nil {
		return ""
	}
	s := strings.TrimSpace(v4)
	if s == "" {
		s = strings.TrimSpace(v6)
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return ""
	}
	p, err := a.Prefix(*length)
	if err != nil || *length < 0 {
		return ""
	}
	return p.String()
}

// decode unmarshals one JSON value nested at most maxDepth deep into v;
// anything else (bad JSON, wrong types, trailing data) is a bad response.
func decode(b []byte, v any) error {
	return enrichment.DecodeJSON(b, maxDepth, v, false, "valid RDAP JSON")
}
