package events

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/hamba/avro/v2"
)

// Schema-registry mode.
//
// A shop that runs a Confluent-compatible schema registry can have Heimdall
// write the Confluent wire format instead of the single-object encoding:
//
//	byte 0     0x00, the Confluent magic byte
//	bytes 1-4  the registry's schema id, big-endian
//	bytes 5-   the Avro binary body written with that schema
//
// for the envelope and, inside its payload field, for the payload record.
// Each record is registered under the subject named by its full name (the
// RecordNameStrategy, for example heimdall.events.Envelope), whatever topic
// it is written to, with compatibility FULL_TRANSITIVE and every released
// version in order. A codec reads both framings whatever it writes: the
// single-object encoding by fingerprint among the schema files, the
// Confluent wire format by schema id (ids it registered are known; others
// are fetched from the registry once and cached) — the writer schema is then
// resolved against the newest reader schema as for the single-object
// encoding.

// confluentMagic is the first byte of the Confluent wire format.
const confluentMagic = 0x00

// notFoundTTL is how long an id the registry does not have is not asked for
// again (a registry replica may lag the one a writer registered with).
const notFoundTTL = time.Minute

// CompatibilityFullTransitive is the compatibility level Heimdall sets on
// each of its subjects.
const CompatibilityFullTransitive = "FULL_TRANSITIVE"

// Errors of schema-registry mode.
var (
	// ErrSubjectNotFound is what a Registry's SetCompatibility returns (via
	// errors.Is) for a subject that has no version yet, on registries that
	// only configure existing subjects.
	ErrSubjectNotFound = errors.New("schema registry subject not found")
	// ErrSchemaNotFound is what a Registry's SchemaByID returns (via
	// errors.Is) for an id the registry does not have.
	ErrSchemaNotFound = errors.New("schema id not found in the schema registry")
	// ErrRegistryUnavailable wraps a failure to reach the registry while
	// decoding a record written with a schema id this codec had not seen:
	// the record may decode later.
	ErrRegistryUnavailable = errors.New("schema registry unavailable")
)

// Registry is the part of a Confluent-compatible schema registry the codec
// uses. internal/schemaregistry implements it over HTTPS.
type Registry interface {
	// SetCompatibility sets the compatibility level of subject.
	SetCompatibility(ctx context.Context, subject, level string) error
	// Register registers schema (Avro JSON) under subject, or finds it
	// registered there, and returns its id.
	Register(ctx context.Context, subject, schema string) (int, error)
	// SchemaByID returns the Avro JSON of the schema with that id.
	SchemaByID(ctx context.Context, id int) (string, error)
}

// WireFormat is the framing a codec writes.
type WireFormat string

// Wire formats.
const (
	// WireSingleObject is Avro's single-object encoding: C3 01, the
	// CRC-64-AVRO fingerprint (little-endian), the body.
	WireSingleObject WireFormat = "single-object"
	// WireConfluent is the Confluent wire format: 00, the schema id
	// (big-endian, 4 bytes), the body.
	WireConfluent WireFormat = "confluent"
)

// Option configures NewCodec.
type Option func(*codecOptions)

type codecOptions struct {
	registry Registry
	format   WireFormat
	ctx      context.Context
	timeout  time.Duration
}

// WithRegistry puts the codec in schema-registry mode: NewCodec sets
// FULL_TRANSITIVE on every subject and registers every released schema
// version, the codec writes the Confluent wire format (unless
// WithWireFormat says otherwise) and resolves unknown schema ids through r.
func WithRegistry(r Registry) Option { return func(o *codecOptions) { o.registry = r } }

// WithWireFormat chooses the framing written. WireConfluent needs a
// registry; WireSingleObject with a registry keeps writing the single-object
// encoding but still reads the Confluent wire format (for a deployment
// switching back).
func WithWireFormat(f WireFormat) Option { return func(o *codecOptions) { o.format = f } }

// WithContext bounds the registrations NewCodec makes (default: a
// background context; each registry call has its own time limit).
func WithContext(ctx context.Context) Option { return func(o *codecOptions) { o.ctx = ctx } }

// WithRegistryTimeout limits each registry call the codec makes (default
// 30s).
func WithRegistryTimeout(d time.Duration) Option { return func(o *codecOptions) { o.timeout = d } }

// Subject is the registry subject of a record: its full name, whatever
// topic it is written to (Confluent's RecordNameStrategy).
func Subject(record string) string { return record }

// registryState is a codec's schema-registry side.
type registryState struct {
	reg     Registry
	format  WireFormat
	timeout time.Duration
	ids     map[string]int // record -> id of its newest version, read-only after NewCodec

	mu       sync.RWMutex
	byID     map[int]Schema    // schema id -> writer schema
	notFound map[int]time.Time // schema id -> when the registry said it has none

	fetch sync.Mutex // one registry fetch at a time
}

func (c *Codec) apply(opts []Option) error {
	if len(opts) == 0 {
		return nil
	}
	o := codecOptions{ctx: context.Background(), timeout: 30 * time.Second}
	for _, f := range opts {
		f(&o)
	}
	switch o.format {
	case "":
		o.format = WireSingleObject
		if o.registry != nil {
			o.format = WireConfluent
		}
	case WireSingleObject, WireConfluent:
	default:
		return fmt.Errorf("unknown wire format %q (want %s or %s)", o.format, WireConfluent, WireSingleObject)
	}
	if o.registry == nil {
		if o.format == WireConfluent {
			return errors.New("the Confluent wire format needs a schema registry")
		}
		return nil
	}
	rs := &registryState{reg: o.registry, format: o.format, timeout: o.timeout, ids: map[string]int{}, byID: map[int]Schema{}, notFound: map[int]time.Time{}}
	if err := c.registerAll(o.ctx, rs); err != nil {
		return err
	}
	c.registry = rs
	if rs.format == WireConfluent {
		for record, id := range rs.ids {
			c.headers[record] = confluentHeader(id)
		}
	}
	return nil
}

func confluentHeader(id int) []byte {
	h := make([]byte, 5)
	h[0] = confluentMagic
	binary.BigEndian.PutUint32(h[1:], uint32(id))
	return h
}

// registerAll sets FULL_TRANSITIVE on each record's subject and registers
// its versions oldest first, so the registry checks each against all before
// it. A registry that configures only existing subjects gets the first
// version before the compatibility level.
func (c *Codec) registerAll(ctx context.Context, rs *registryState) error {
	byRecord := map[string][]Schema{}
	for _, s := range c.byFingerprint {
		byRecord[s.Record] = append(byRecord[s.Record], s)
	}
	records := make([]string, 0, len(byRecord))
	for r := range byRecord {
		records = append(records, r)
	}
	sort.Strings(records)
	call := func(f func(ctx context.Context) error) error {
		cctx, cancel := context.WithTimeout(ctx, rs.timeout)
		defer cancel()
		return f(cctx)
	}
	register := func(subject string, s Schema) error {
		text := s.JSON
		if text == "" {
			text = s.Avro.String()
		}
		var id int
		err := call(func(ctx context.Context) (err error) {
			id, err = rs.reg.Register(ctx, subject, text)
			return err
		})
		if err != nil {
			return fmt.Errorf("registering %s version %d under subject %s: %w", s.Record, s.Version, subject, err)
		}
		if prev, dup := rs.byID[id]; dup && prev.Fingerprint != s.Fingerprint {
			return fmt.Errorf("the schema registry gave %s version %d the id %d of %s version %d", s.Record, s.Version, id, prev.Record, prev.Version)
		}
		rs.byID[id] = s
		if s.Fingerprint == c.latest[s.Record].Fingerprint {
			rs.ids[s.Record] = id
		}
		return nil
	}
	for _, record := range records {
		versions := byRecord[record]
		sort.Slice(versions, func(i, j int) bool { return versions[i].Version < versions[j].Version })
		subject := Subject(record)
		setCompat := func() error {
			return call(func(ctx context.Context) error {
				return rs.reg.SetCompatibility(ctx, subject, CompatibilityFullTransitive)
			})
		}
		rest := versions
		if err := setCompat(); err != nil {
			if !errors.Is(err, ErrSubjectNotFound) {
				return fmt.Errorf("setting compatibility %s on subject %s: %w", CompatibilityFullTransitive, subject, err)
			}
			if err := register(subject, versions[0]); err != nil {
				return err
			}
			if err := setCompat(); err != nil {
				return fmt.Errorf("setting compatibility %s on subject %s: %w", CompatibilityFullTransitive, subject, err)
			}
			rest = versions[1:]
		}
		for _, s := range rest {
			if err := register(subject, s); err != nil {
				return err
			}
		}
	}
	return nil
}

// WireFormat is the framing the codec writes.
func (c *Codec) WireFormat() WireFormat {
	if c.registry == nil {
		return WireSingleObject
	}
	return c.registry.format
}

// SchemaIDs returns, in schema-registry mode, the registry id of the newest
// version of each record (the ids the codec writes); nil otherwise.
func (c *Codec) SchemaIDs() map[string]int {
	if c.registry == nil {
		return nil
	}
	out := make(map[string]int, len(c.registry.ids))
	for r, id := range c.registry.ids {
		out[r] = id
	}
	return out
}

// decodeConfluent decodes the Confluent wire format of the named record.
func (c *Codec) decodeConfluent(record string, b []byte, v any) error {
	if len(b) < 5 {
		return fmt.Errorf("%w: %d bytes, shorter than the Confluent header", ErrNotSingleObject, len(b))
	}
	id := int(binary.BigEndian.Uint32(b[1:5]))
	writer, err := c.writerByID(id)
	if err != nil {
		return err
	}
	if writer.Record != record {
		return fmt.Errorf("writer schema is %s, expected %s", writer.Record, record)
	}
	schema, err := c.readerFor(writer)
	if err != nil {
		return err
	}
	return api.Unmarshal(schema, b[5:], v)
}

// writerByID returns the writer schema of a registry id: one the codec
// registered, or one fetched from the registry (once: it is cached).
func (c *Codec) writerByID(id int) (Schema, error) {
	rs := c.registry
	if rs == nil {
		return Schema{}, fmt.Errorf("%w: schema id %d of the Confluent wire format, and no schema registry is configured", ErrUnknownSchema, id)
	}
	rs.mu.RLock()
	s, ok := rs.byID[id]
	rs.mu.RUnlock()
	if ok {
		return s, nil
	}
	rs.fetch.Lock()
	defer rs.fetch.Unlock()
	rs.mu.RLock()
	s, ok = rs.byID[id]
	rs.mu.RUnlock()
	if ok {
		return s, nil
	}
	// An id the registry just said it lacks is not asked for again for a
	// while: garbage records must not each cost a registry call.
	if at, ok := rs.notFound[id]; ok && time.Since(at) < notFoundTTL {
		return Schema{}, fmt.Errorf("%w: schema id %d is not in the schema registry", ErrUnknownSchema, id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), rs.timeout)
	defer cancel()
	text, err := rs.reg.SchemaByID(ctx, id)
	if errors.Is(err, ErrSchemaNotFound) {
		if len(rs.notFound) > 10000 {
			clear(rs.notFound)
		}
		rs.notFound[id] = time.Now()
		return Schema{}, fmt.Errorf("%w: schema id %d is not in the schema registry", ErrUnknownSchema, id)
	}
	if err != nil {
		return Schema{}, fmt.Errorf("%w: fetching schema id %d: %v", ErrRegistryUnavailable, id, err)
	}
	s, err = c.registrySchema(id, text)
	if err != nil {
		return Schema{}, err
	}
	rs.mu.Lock()
	rs.byID[id] = s
	rs.mu.Unlock()
	return s, nil
}

// registrySchema parses a schema fetched from the registry. One with the
// canonical form of a schema file is that file's schema.
func (c *Codec) registrySchema(id int, text string) (Schema, error) {
	parsed, err := avro.ParseWithCache(text, "", &avro.SchemaCache{})
	if err != nil {
		return Schema{}, fmt.Errorf("%w: schema id %d does not parse: %v", ErrUnknownSchema, id, err)
	}
	named, ok := parsed.(avro.NamedSchema)
	if !ok {
		return Schema{}, fmt.Errorf("%w: schema id %d is not a named record", ErrUnknownSchema, id)
	}
	fp, err := parsed.FingerprintUsing(avro.CRC64AvroLE)
	if err != nil {
		return Schema{}, err
	}
	f := binary.LittleEndian.Uint64(fp)
	if local, ok := c.byFingerprint[f]; ok {
		return local, nil
	}
	if _, known := c.latest[named.FullName()]; !known {
		return Schema{}, fmt.Errorf("%w: schema id %d is %s, a record without schema files", ErrUnknownSchema, id, named.FullName())
	}
	return Schema{Record: named.FullName(), File: fmt.Sprintf("schema registry id %d", id), Fingerprint: f, Avro: parsed, JSON: text}, nil
}
