package geoip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heimdallhub/heimdall/internal/enrichment"
)

// Observable kinds the provider accepts.
const (
	KindIPv4 = "ipv4-addr"
	KindIPv6 = "ipv6-addr"
	// KindAS is the kind of the BELONGS_TO relation's target.
	KindAS = "autonomous-system"
)

// RelBelongsTo labels the edge from an address to its autonomous system.
const RelBelongsTo = "BELONGS_TO"

// DefaultReloadEvery is how often the database files are checked when
// Config.ReloadEvery is zero.
const DefaultReloadEvery = 30 * time.Second

// Config configures a Provider.
type Config struct {
	// Name is the configured provider name (default "geoip").
	Name string
	// Kinds are the accepted observable kinds, a subset of ipv4-addr and
	// ipv6-addr (default both).
	Kinds []string
	// Databases are the paths of the MaxMind DB files, one or more (for
	// example a City or Country database and an ASN database). Earlier
	// databases win when two answer the same field.
	Databases []string
	// ReloadEvery is how often each file's size, modification time and
	// identity are checked; a changed file is reloaded (default 30s; a
	// negative value disables polling, leaving Reload).
	ReloadEvery time.Duration
	// Logger receives reload failures and successes (default: discarded).
	Logger *slog.Logger
}

// Validate reports every problem of c.
func (c Config) Validate() error {
	var errs []error
	if c.Name != "" && strings.TrimSpace(c.Name) != c.Name {
		errs = append(errs, errors.New("geoip: name has surrounding spaces"))
	}
	for _, k := range c.Kinds {
		if k != KindIPv4 && k != KindIPv6 {
			errs = append(errs, fmt.Errorf("geoip: kind %q is not supported (ipv4-addr, ipv6-addr)", k))
		}
	}
	if len(c.Databases) == 0 {
		errs = append(errs, errors.New("geoip: no database configured"))
	}
	seen := map[string]bool{}
	for i, p := range c.Databases {
		switch {
		case p == "":
			errs = append(errs, fmt.Errorf("geoip: database %d has an empty path", i+1))
		case seen[p]:
			errs = append(errs, fmt.Errorf("geoip: database %s is listed twice", p))
		}
		seen[p] = true
	}
	return errors.Join(errs...)
}

// DatabaseInfo describes one loaded database.
type DatabaseInfo struct {
	Path       string
	Type       string    // metadata database_type, for example GeoLite2-ASN
	BuildEpoch int64     // metadata build_epoch (Unix seconds)
	Build      time.Time // BuildEpoch as a time
	IPVersion  int       // 4 or 6
	Size       int64     // file size when loaded
	ModTime    time.Time // file modification time when loaded
	LoadedAt   time.Time
}

// Version is the database's part of Result.Version: "<type>@<build epoch>".
func (d DatabaseInfo) Version() string {
	return d.Type + "@" + strconv.FormatInt(d.BuildEpoch, 10)
}

// Provider looks IP addresses up in MaxMind DB files. It is safe for
// concurrent use; Close stops its poller.
type Provider struct {
	name  string
	kinds []string
	paths []string
	every time.Duration
	log   *slog.Logger

	cur atomic.Pointer[snapshot]

	mu    sync.Mutex // serialises checks; guards files
	files []fileState

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

var _ enrichment.Provider = (*Provider)(nil)

// New loads every database (all must load) and starts the poller.
func New(cfg Config) (*Provider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Provider{
		name:  cfg.Name,
		kinds: slices.Clone(cfg.Kinds),
		paths: slices.Clone(cfg.Databases),
		every: cfg.ReloadEvery,
		log:   cfg.Logger,
		files: make([]fileState, len(cfg.Databases)),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	if p.name == "" {
		p.name = "geoip"
	}
	if len(p.kinds) == 0 {
		p.kinds = []string{KindIPv4, KindIPv6}
	}
	if p.every == 0 {
		p.every = DefaultReloadEvery
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	dbs := make([]*database, len(p.paths))
	var errs []error
	for i, path := range p.paths {
		db, err := load(path)
		if err != nil {
			errs = append(errs, fmt.Errorf("geoip: %w", err))
			continue
		}
		dbs[i] = db
		p.files[i].loaded = db.stat
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	p.cur.Store(newSnapshot(dbs))
	if p.every > 0 {
		go p.poll()
	} else {
		close(p.done)
	}
	return p, nil
}

// Name implements enrichment.Provider.
func (p *Provider) Name() string { return p.name }

// Type implements enrichment.Provider: "geoip".
func (p *Provider) Type() string { return "geoip" }

// Kinds implements enrichment.Provider.
func (p *Provider) Kinds() []string { return slices.Clone(p.kinds) }

// Databases reports the databases being served, in configuration order
// (nil after Close).
func (p *Provider) Databases() []DatabaseInfo {
	s := p.cur.Load()
	if s == nil {
		return nil
	}
	out := make([]DatabaseInfo, len(s.dbs))
	for i, db := range s.dbs {
		out[i] = db.info
	}
	return out
}

// Version is the Result.Version of the databases being served ("" after
// Close).
func (p *Provider) Version() string {
	if s := p.cur.Load(); s != nil {
		return s.version
	}
	return ""
}

// Close stops the poller. Later Enrich calls fail as unavailable; calls in
// flight finish on the databases they started with. Close is idempotent.
func (p *Provider) Close() error {
	p.closeOnce.Do(func() {
		close(p.stop)
		<-p.done
		p.mu.Lock()
		p.cur.Store(nil)
		p.mu.Unlock()
	})
	return nil
}

// record covers the fields of GeoLite2/GeoIP2 Country, City and ASN
// databases that the provider reports.
type record struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	RegisteredCountry struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"registered_country"`
	Continent struct {
		Code string `maxminddb:"code"`
	} `maxminddb:"continent"`
	City struct {
		Names struct {
			EN string `maxminddb:"en"`
		} `maxminddb:"names"`
	} `maxminddb:"city"`
	Location struct {
		Latitude       *float64 `maxminddb:"latitude"`
		Longitude      *float64 `maxminddb:"longitude"`
		AccuracyRadius uint16   `maxminddb:"accuracy_radius"`
	} `maxminddb:"location"`
	ASN   uint32 `maxminddb:"autonomous_system_number"`
	ASOrg string `maxminddb:"autonomous_system_organization"`
}

// merged is the union of the records of every database.
type merged struct {
	country, continent, city, registered string
	lat, lon                             *float64
	radius                               uint16
	asn                                  uint32
	asOrg                                string
	asnNet, firstNet                     netip.Prefix
}

func (m *merged) add(r *record, prefix netip.Prefix) {
	setString(&m.country, r.Country.ISOCode)
	setString(&m.continent, r.Continent.Code)
	setString(&m.city, r.City.Names.EN)
	setString(&m.registered, r.RegisteredCountry.ISOCode)
	if m.lat == nil && m.lon == nil && r.Location.Latitude != nil && r.Location.Longitude != nil {
		m.lat, m.lon = r.Location.Latitude, r.Location.Longitude
		m.radius = r.Location.AccuracyRadius
	}
	if m.asn == 0 && r.ASN != 0 {
		m.asn, m.asOrg = r.ASN, r.ASOrg
		m.asnNet = prefix
	}
	if !m.firstNet.IsValid() {
		m.firstNet = prefix
	}
}

func setString(dst *string, v string) {
	if *dst == "" {
		*dst = v
	}
}

func (m *merged) attributes() []enrichment.Attribute {
	attrs := make([]enrichment.Attribute, 0, 10)
	add := func(name, v string) {
		if v != "" {
			attrs = append(attrs, enrichment.Attribute{Name: name, Value: v})
		}
	}
	add("country", m.country)
	add("continent", m.continent)
	add("city", m.city)
	if m.lat != nil && m.lon != nil {
		add("latitude", formatCoord(*m.lat))
		add("longitude", formatCoord(*m.lon))
		if m.radius > 0 {
			add("accuracy_radius_km", strconv.FormatUint(uint64(m.radius), 10))
		}
	}
	add("registered_country", m.registered)
	if m.asn != 0 {
		add("asn", strconv.FormatUint(uint64(m.asn), 10))
		add("as_org", m.asOrg)
	}
	net := m.asnNet
	if !net.IsValid() {
		net = m.firstNet
	}
	if net.IsValid() && len(attrs) > 0 {
		add("network", net.String())
	}
	return attrs
}

// formatCoord prints a coordinate with at most 4 decimals (about 11 m),
// the precision MaxMind publishes, without trailing zeros.
func formatCoord(v float64) string {
	s := strconv.FormatFloat(v, 'f', 4, 64)
	s = strings.TrimRight(s, "0")
	s = strings.TrimSuffix(s, ".")
	if s == "-0" {
		s = "0"
	}
	return s
}

// Enrich implements enrichment.Provider.
func (p *Provider) Enrich(ctx context.Context, req enrichment.Request) (enrichment.Result, error) {
	if err := ctx.Err(); err != nil {
		return enrichment.Result{}, ctxError(err)
	}
	if !slices.Contains(p.kinds, req.Kind) {
		return enrichment.Result{}, enrichment.Errorf(enrichment.ClassRejected, "the provider does not accept this kind")
	}
	addr, err := netip.ParseAddr(req.Value)
	if err != nil || addr.Zone() != "" {
		return enrichment.Result{}, enrichment.Errorf(enrichment.ClassRejected, "the value is not an IP address")
	}
	if (req.Kind == KindIPv4) != addr.Is4() {
		return enrichment.Result{}, enrichment.Errorf(enrichment.ClassRejected, "the value does not match its kind")
	}
	addr = addr.Unmap()
	s := p.cur.Load()
	if s == nil {
		return enrichment.Result{}, enrichment.Errorf(enrichment.ClassUnavailable, "the provider is closed")
	}
	var m merged
	found := false
	for _, db := range s.dbs {
		if addr.Is6() && db.info.IPVersion == 4 {
			continue // an IPv4-only database knows no IPv6 address
		}
		res := db.reader.Lookup(addr)
		if !res.Found() {
			if err := res.Err(); err != nil {
				return enrichment.Result{}, &enrichment.Error{Class: enrichment.ClassBadResponse,
					Reason: "a database lookup failed", Err: err}
			}
			continue
		}
		var r record
		if err := res.Decode(&r); err != nil {
			return enrichment.Result{}, &enrichment.Error{Class: enrichment.ClassBadResponse,
				Reason: "a database record could not be decoded", Err: err}
		}
		found = true
		m.add(&r, res.Prefix())
	}
	out := enrichment.Result{Version: s.version}
	if found {
		out.Attributes = m.attributes()
	}
	if len(out.Attributes) == 0 {
		out.NotFound = true
		out.Attributes = nil
		return out, nil
	}
	if m.asn != 0 {
		rel := enrichment.Relation{Type: RelBelongsTo,
			Target: enrichment.Target{Kind: KindAS, Value: strconv.FormatUint(uint64(m.asn), 10)}}
		if m.asOrg != "" {
			rel.Attributes = []enrichment.Attribute{{Name: "as_org", Value: m.asOrg}}
		}
		out.Relations = []enrichment.Relation{rel}
	}
	return out, nil
}

func ctxError(err error) *enrichment.Error {
	if errors.Is(err, context.DeadlineExceeded) {
		return &enrichment.Error{Class: enrichment.ClassTimeout, Reason: "the call timed out", Err: err}
	}
	return &enrichment.Error{Class: enrichment.ClassCanceled, Reason: "the call was canceled", Err: err}
}
