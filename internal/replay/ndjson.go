package replay

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"time"

	"github.com/heimdallhub/heimdall/events"
)

// Position is where a record sits in the log.
type Position struct {
	Topic     string
	Partition int32
	Offset    int64
	Timestamp time.Time // the record timestamp
}

// Line is one NDJSON line: the decoded event and its position. Payload
// holds every field of the typed payload under its Avro field name (times
// as RFC 3339 in UTC, lists never null). An event of a type this build does
// not know has a null payload and its payload's single-object encoding in
// PayloadRaw (base64).
type Line struct {
	EventID        string           `json:"event_id"`
	EventType      string           `json:"event_type"`
	SchemaVersion  int              `json:"schema_version"`
	RecordKey      string           `json:"record_key"`
	OriginPeer     string           `json:"origin_peer"`
	VersionVector  map[string]int64 `json:"version_vector"`
	HLC            int64            `json:"hlc"`
	Actor          LineActor        `json:"actor"`
	RequestID      string           `json:"request_id"`
	BatchID        string           `json:"batch_id"`
	RecordedAt     time.Time        `json:"recorded_at"`
	Provenance     LineProvenance   `json:"provenance"`
	Classification string           `json:"classification"`
	PolicyVersion  string           `json:"policy_version"`
	Payload        json.RawMessage  `json:"payload"`
	PayloadRaw     []byte           `json:"payload_raw,omitempty"`
	Topic          string           `json:"topic"`
	Partition      int32            `json:"partition"`
	Offset         int64            `json:"offset"`
	Timestamp      time.Time        `json:"timestamp"`
}

// LineActor is the envelope's actor.
type LineActor struct {
	Subject string `json:"subject"`
	Issuer  string `json:"issuer"`
}

// LineProvenance is the envelope's provenance.
type LineProvenance struct {
	Source     string `json:"source"`
	Format     string `json:"format"`
	File       string `json:"file"`
	Line       int64  `json:"line"`
	ByteOffset int64  `json:"byte_offset"`
}

// NewLine builds the line of e read at pos.
func NewLine(pos Position, e events.Event) (Line, error) {
	vv := make(map[string]int64, len(e.Vector))
	for p, c := range e.Vector {
		vv[p] = c
	}
	l := Line{
		EventID:        e.ID.String(),
		EventType:      e.Type,
		SchemaVersion:  e.SchemaVersion,
		RecordKey:      e.Key,
		OriginPeer:     e.OriginPeer,
		VersionVector:  vv,
		HLC:            int64(e.HLC),
		Actor:          LineActor{Subject: e.Actor.Subject, Issuer: e.Actor.Issuer},
		RequestID:      e.RequestID,
		BatchID:        e.BatchID,
		RecordedAt:     e.RecordedAt.UTC(),
		Provenance:     LineProvenance(e.Provenance),
		Classification: e.Classification,
		PolicyVersion:  e.PolicyVersion,
		Topic:          pos.Topic,
		Partition:      pos.Partition,
		Offset:         pos.Offset,
		Timestamp:      pos.Timestamp.UTC(),
	}
	switch p := e.Payload.(type) {
	case nil:
		l.Payload = json.RawMessage("null")
	case events.Unknown:
		l.Payload = json.RawMessage("null")
		l.PayloadRaw = p.Raw
	default:
		var b bytes.Buffer
		if err := appendValue(&b, reflect.ValueOf(p)); err != nil {
			return Line{}, fmt.Errorf("encoding the %s payload of event %s: %w", e.Type, e.ID, err)
		}
		l.Payload = b.Bytes()
	}
	return l, nil
}

// AppendNDJSON appends the line of e read at pos, newline-terminated, to
// dst. HTML characters are not escaped, so values read as the log holds
// them.
func AppendNDJSON(dst []byte, pos Position, e events.Event) ([]byte, error) {
	l, err := NewLine(pos, e)
	if err != nil {
		return dst, err
	}
	b := bytes.NewBuffer(dst)
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(l); err != nil {
		return dst, fmt.Errorf("encoding event %s as JSON: %w", e.ID, err)
	}
	return b.Bytes(), nil
}

var timeType = reflect.TypeFor[time.Time]()

// appendValue writes v as JSON: structs as objects of their avro-tagged
// fields in declaration order, slices as arrays (never null), times in UTC.
func appendValue(b *bytes.Buffer, v reflect.Value) error {
	switch {
	case v.Type() == timeType:
		return appendScalar(b, v.Interface().(time.Time).UTC())
	case v.Kind() == reflect.Struct:
		b.WriteByte('{')
		first := true
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			name := f.Tag.Get("avro")
			if !f.IsExported() || name == "" || name == "-" {
				continue
			}
			if !first {
				b.WriteByte(',')
			}
			first = false
			if err := appendScalar(b, name); err != nil {
				return err
			}
			b.WriteByte(':')
			if err := appendValue(b, v.Field(i)); err != nil {
				return fmt.Errorf("field %s: %w", name, err)
			}
		}
		b.WriteByte('}')
		return nil
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() != reflect.Uint8:
		b.WriteByte('[')
		for i := 0; i < v.Len(); i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := appendValue(b, v.Index(i)); err != nil {
				return err
			}
		}
		b.WriteByte(']')
		return nil
	case v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface:
		if v.IsNil() {
			b.WriteString("null")
			return nil
		}
		return appendValue(b, v.Elem())
	}
	return appendScalar(b, v.Interface())
}

func appendScalar(b *bytes.Buffer, v any) error {
	var s bytes.Buffer
	enc := json.NewEncoder(&s)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	b.Write(bytes.TrimSuffix(s.Bytes(), []byte{'\n'}))
	return nil
}
