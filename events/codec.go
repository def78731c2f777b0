package events

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
	"sync"

	"github.com/google/uuid"
	"github.com/hamba/avro/v2"
	"github.com/hamba/avro/v2/soe"

	"github.com/heimdallhub/heimdall/schemas"
)

// Errors returned by the codec.
var (
	ErrNotSingleObject = errors.New("not an Avro single-object encoding (nor the Confluent wire format)")
	ErrUnknownSchema   = errors.New("unknown writer schema fingerprint")
	ErrIncompatible    = errors.New("writer schema cannot be read by the reader schema")
)

// Schema is one released version of a record schema.
type Schema struct {
	Record      string // full name, for example heimdall.events.Envelope
	Version     int
	File        string
	Fingerprint uint64 // CRC-64-AVRO of the parsing canonical form
	Avro        avro.Schema
	JSON        string // the file's text, as registered with a schema registry
}

var fileName = regexp.MustCompile(`^([a-z0-9_]+)\.v([0-9]+)\.avsc$`)

// LoadSchemas parses every <name>.v<N>.avsc file of fsys, each with its own
// name cache so versions of one record do not collide.
func LoadSchemas(fsys fs.FS) ([]Schema, error) {
	names, err := fs.Glob(fsys, "*.avsc")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []Schema
	for _, name := range names {
		m := fileName.FindStringSubmatch(name)
		if m == nil {
			return nil, fmt.Errorf("schema file %s: name is not <record>.v<N>.avsc", name)
		}
		version, _ := strconv.Atoi(m[2])
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		s, err := avro.ParseBytesWithCache(b, "", &avro.SchemaCache{})
		if err != nil {
			return nil, fmt.Errorf("parsing schema file %s: %w", name, err)
		}
		named, ok := s.(avro.NamedSchema)
		if !ok {
			return nil, fmt.Errorf("schema file %s: top level is not a named record", name)
		}
		fp, err := s.FingerprintUsing(avro.CRC64AvroLE)
		if err != nil {
			return nil, err
		}
		out = append(out, Schema{
			Record:      named.FullName(),
			Version:     version,
			File:        name,
			Fingerprint: binary.LittleEndian.Uint64(fp),
			Avro:        s,
			JSON:        string(b),
		})
	}
	return out, nil
}

// Codec encodes and decodes events. It is safe for concurrent use.
type Codec struct {
	byFingerprint map[uint64]Schema
	latest        map[string]Schema // record name -> newest version
	headers       map[string][]byte // record name -> SOE header of newest version

	mu       sync.RWMutex
	resolved map[uint64]avro.Schema // writer fingerprint -> reader resolved against writer

	registry *registryState // nil: no schema registry (registry.go)
}

// NewCodec returns a codec over the embedded schema files. Without options it
// writes the single-object encoding and reads it; WithRegistry adds the
// Confluent wire format (registry.go).
func NewCodec(opts ...Option) (*Codec, error) {
	list, err := LoadSchemas(schemas.FS)
	if err != nil {
		return nil, err
	}
	c, err := newCodec(list)
	if err != nil {
		return nil, err
	}
	if err := c.apply(opts); err != nil {
		return nil, err
	}
	return c, nil
}

func newCodec(list []Schema) (*Codec, error) {
	c := &Codec{
		byFingerprint: map[uint64]Schema{},
		latest:        map[string]Schema{},
		headers:       map[string][]byte{},
		resolved:      map[uint64]avro.Schema{},
	}
	for _, s := range list {
		if prev, dup := c.byFingerprint[s.Fingerprint]; dup {
			return nil, fmt.Errorf("schema files %s and %s have the same canonical form", prev.File, s.File)
		}
		c.byFingerprint[s.Fingerprint] = s
		if cur, ok := c.latest[s.Record]; !ok || s.Version > cur.Version {
			c.latest[s.Record] = s
		}
	}
	for name, s := range c.latest {
		h, err := soe.BuildHeader(s.Avro)
		if err != nil {
			return nil, err
		}
		c.headers[name] = h
	}
	if _, ok := c.latest[envelopeRecord]; !ok {
		return nil, fmt.Errorf("no schema for %s", envelopeRecord)
	}
	for typ, p := range payloadTypes {
		if _, ok := c.latest[p.record]; !ok {
			return nil, fmt.Errorf("no schema for event type %s (%s)", typ, p.record)
		}
	}
	return c, nil
}

const envelopeRecord = "heimdall.events.Envelope"

// api bounds what decoding untrusted bytes may allocate: an Avro length
// prefix claiming a huge array or byte string is an error, not an
// out-of-memory crash. Events are far below these bounds (the log's
// max.message.bytes is 8 MiB).
var api = avro.Config{
	MaxSliceAllocSize: 1 << 16,
	MaxByteSliceSize:  16 << 20,
}.Freeze()

// Schemas returns every known schema version.
func (c *Codec) Schemas() []Schema {
	out := make([]Schema, 0, len(c.byFingerprint))
	for _, s := range c.byFingerprint {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Record != out[j].Record {
			return out[i].Record < out[j].Record
		}
		return out[i].Version < out[j].Version
	})
	return out
}

// Encode returns the single-object encoding of e (in schema-registry mode the
// Confluent wire format). The payload is encoded with the newest schema of its
// type, whose version is recorded in the envelope.
func (c *Codec) Encode(e Event) ([]byte, error) {
	if e.Payload == nil {
		return nil, errors.New("encoding event: no payload")
	}
	typ := e.Payload.EventType()
	var payload []byte
	version := e.SchemaVersion
	if u, ok := e.Payload.(Unknown); ok {
		payload = u.Raw
	} else {
		pt, ok := payloadTypes[typ]
		if !ok {
			return nil, fmt.Errorf("encoding event: unknown event type %q", typ)
		}
		var err error
		payload, err = c.encodeRecord(pt.record, e.Payload)
		if err != nil {
			return nil, fmt.Errorf("encoding %s payload: %w", typ, err)
		}
		version = c.latest[pt.record].Version
	}
	env := envelope{
		EventID:        e.ID.String(),
		EventType:      typ,
		SchemaVersion:  int32(version),
		RecordKey:      e.Key,
		OriginPeer:     e.OriginPeer,
		VersionVector:  e.Vector.Entries(),
		HLC:            int64(e.HLC),
		Actor:          e.Actor,
		RequestID:      e.RequestID,
		BatchID:        e.BatchID,
		RecordedAt:     e.RecordedAt.UTC(),
		Provenance:     e.Provenance,
		Classification: e.Classification,
		PolicyVersion:  e.PolicyVersion,
		Payload:        payload,
	}
	b, err := c.encodeRecord(envelopeRecord, env)
	if err != nil {
		return nil, fmt.Errorf("encoding envelope: %w", err)
	}
	return b, nil
}

func (c *Codec) encodeRecord(record string, v any) ([]byte, error) {
	s := c.latest[record]
	h := c.headers[record]
	body, err := api.Marshal(s.Avro, v)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(h)+len(body))
	out = append(out, h...)
	return append(out, body...), nil
}

// Decode parses an event written with any known schema version, framed as a
// single-object encoding or in the Confluent wire format (registry.go). An event type this build does not know decodes to an Unknown
// payload without error.
func (c *Codec) Decode(b []byte) (Event, error) {
	e, env, err := c.decodeEnvelope(b)
	if err != nil {
		return Event{}, err
	}
	pt, ok := payloadTypes[env.EventType]
	if !ok {
		return e, nil
	}
	v := pt.zero()
	if err := c.decodeRecord(pt.record, env.Payload, v); err != nil {
		return Event{}, fmt.Errorf("decoding %s payload: %w", env.EventType, err)
	}
	e.Payload = pt.deref(v)
	return e, nil
}

// DecodeEnvelope is Decode without the payload: the event's payload is left
// Unknown (its type and raw bytes). For those that route or filter events
// by their envelope (peer sync), at a fraction of the cost.
func (c *Codec) DecodeEnvelope(b []byte) (Event, error) {
	e, _, err := c.decodeEnvelope(b)
	return e, err
}

func (c *Codec) decodeEnvelope(b []byte) (Event, envelope, error) {
	var env envelope
	if err := c.decodeRecord(envelopeRecord, b, &env); err != nil {
		return Event{}, env, fmt.Errorf("decoding envelope: %w", err)
	}
	id, err := uuid.Parse(env.EventID)
	if err != nil {
		return Event{}, env, fmt.Errorf("decoding envelope: event id is not a UUID: %w", err)
	}
	e := Event{
		ID:             id,
		Type:           env.EventType,
		SchemaVersion:  int(env.SchemaVersion),
		Key:            env.RecordKey,
		OriginPeer:     env.OriginPeer,
		Vector:         VectorFromEntries(env.VersionVector),
		HLC:            HLC(env.HLC),
		Actor:          env.Actor,
		RequestID:      env.RequestID,
		BatchID:        env.BatchID,
		RecordedAt:     env.RecordedAt.UTC(),
		Provenance:     env.Provenance,
		Classification: env.Classification,
		PolicyVersion:  env.PolicyVersion,
		Payload:        Unknown{Type: env.EventType, Raw: env.Payload},
	}
	return e, env, nil
}

// decodeRecord decodes a single-object encoding (or the Confluent wire format)
// of the named record into v, resolving the writer schema against the newest
// reader schema.
func (c *Codec) decodeRecord(record string, b []byte, v any) error {
	if len(b) > 0 && b[0] == confluentMagic {
		return c.decodeConfluent(record, b, v)
	}
	if len(b) < 10 || !bytes.Equal(b[:2], soe.Magic) {
		return ErrNotSingleObject
	}
	fp := binary.LittleEndian.Uint64(b[2:10])
	writer, ok := c.byFingerprint[fp]
	if !ok {
		return fmt.Errorf("%w %016x", ErrUnknownSchema, fp)
	}
	if writer.Record != record {
		return fmt.Errorf("writer schema is %s, expected %s", writer.Record, record)
	}
	schema, err := c.readerFor(writer)
	if err != nil {
		return err
	}
	return api.Unmarshal(schema, b[10:], v)
}

func (c *Codec) readerFor(writer Schema) (avro.Schema, error) {
	reader := c.latest[writer.Record]
	if reader.Fingerprint == writer.Fingerprint {
		return reader.Avro, nil
	}
	c.mu.RLock()
	s, ok := c.resolved[writer.Fingerprint]
	c.mu.RUnlock()
	if ok {
		return s, nil
	}
	s, err := avro.NewSchemaCompatibility().Resolve(reader.Avro, writer.Avro)
	if err != nil {
		return nil, fmt.Errorf("%w: %s v%d from v%d: %v", ErrIncompatible, writer.Record, reader.Version, writer.Version, err)
	}
	c.mu.Lock()
	c.resolved[writer.Fingerprint] = s
	c.mu.Unlock()
	return s, nil
}

// CheckCompatibility verifies full transitive compatibility: every version of
// each record can read data written by every other version of it.
func CheckCompatibility(list []Schema) error {
	byRecord := map[string][]Schema{}
	for _, s := range list {
		byRecord[s.Record] = append(byRecord[s.Record], s)
	}
	var errs []error
	compat := avro.NewSchemaCompatibility()
	for _, versions := range byRecord {
		for _, r := range versions {
			for _, w := range versions {
				if err := compat.Compatible(r.Avro, w.Avro); err != nil {
					errs = append(errs, fmt.Errorf("%s: reader %s cannot read writer %s: %w", r.Record, r.File, w.File, err))
				}
			}
		}
	}
	return errors.Join(errs...)
}
