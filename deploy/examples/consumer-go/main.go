// Command consumer-go is an example downstream consumer of Heimdall's topics.
//
// It decodes every event from the Avro schema files alone (schemas/*.avsc, or
// a copy of them), with no Heimdall package: it reads the single-object
// header of the record value, finds the writer schema by its fingerprint
// among the files, decodes the envelope, then the payload the same way, and
// prints one JSON line per event. See schemas/README.md for the contract it
// implements.
//
//	go run ./deploy/examples/consumer-go -brokers localhost:59092 \
//	    -ca-file .stack/ca/ca.crt -topic heimdall.events -from-beginning -max 10
//
// Output, one line per event (keys sorted):
//
//	{"envelope_schema":"envelope.v1.avsc","event":{...every envelope field...,
//	 "payload":{...every payload field...}},"headers":{...},"key":"...",
//	 "offset":0,"partition":0,"payload_schema":"entity_observed.v1.avsc",
//	 "timestamp":"...","topic":"heimdall.events"}
//
// Timestamps are RFC 3339 UTC strings with microseconds; long values (hlc,
// version vector counters) are exact JSON integers and exceed 2^53; bytes
// are base64. Payloads are resolved to the newest schema version of their
// record in the directory, so fields added later show their defaults for
// events written with an older version.
//
// An event of a type this consumer does not know is skipped (reported on
// stderr), as the contract requires. A record it cannot decode (not a
// single-object encoding, or a writer schema missing from the directory)
// stops it with an error: update the schema files rather than lose events.
//
// Exit status: 0 when done (-max records read, or interrupted), 1 on an
// error or when -timeout passed before -max records came, 2 on bad flags.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// eventTypes are the event types this consumer knows, with the record that
// holds each one's payload (schemas/README.md, "Event types"). Any other
// event type is skipped.
var eventTypes = map[string]string{
	"entity.observed":        "heimdall.events.EntityObserved",
	"relation.observed":      "heimdall.events.RelationObserved",
	"ingest.rejected":        "heimdall.events.IngestRejected",
	"classification.changed": "heimdall.events.ClassificationChanged",
	"retraction.requested":   "heimdall.events.RetractionRequested",
	"audit.recorded":         "heimdall.events.AuditRecorded",
	"pii.decryption_audited": "heimdall.events.DecryptionAudited",
	"enrichment.recorded":    "heimdall.events.EnrichmentRecorded",
	"enrichment.requested":   "heimdall.events.EnrichmentRequested",
}

const envelopeRecord = "heimdall.events.Envelope"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type options struct {
	brokers       []string
	caFile        string
	topics        []string
	schemaDir     string
	fromBeginning bool
	max           int
	group         string
	timeout       time.Duration
	// user and password are the SCRAM-SHA-512 principal (the password
	// only ever comes from the environment, never a flag).
	user, password string
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("consumer-go", flag.ContinueOnError)
	fs.SetOutput(stderr)
	brokers := fs.String("brokers", os.Getenv("HEIMDALL_KAFKA_BROKERS"), "comma-separated TLS bootstrap brokers, host:port (default $HEIMDALL_KAFKA_BROKERS)")
	caFile := fs.String("ca-file", os.Getenv("HEIMDALL_CA_FILE"), "PEM CA bundle that issued the brokers' certificates (default $HEIMDALL_CA_FILE; system roots if empty)")
	topic := fs.String("topic", "heimdall.events", "topic to read, or a comma-separated list (heimdall.events, heimdall.rejects, heimdall.audit by default names)")
	schemaDir := fs.String("schemas", "schemas", "directory of the <record>.v<N>.avsc schema files")
	fromBeginning := fs.Bool("from-beginning", false, "start at the oldest record (default: only records written from now on; with -group, where the group left off)")
	maxRecords := fs.Int("max", 0, "stop after this many records (events printed plus events skipped); 0 reads until interrupted")
	group := fs.String("group", "", "consumer group; offsets are committed after each record is printed (default: no group, every partition)")
	timeout := fs.Duration("timeout", 0, "give up after this long (an error if -max records did not come); 0 waits for ever")
	user := fs.String("user", os.Getenv("HEIMDALL_KAFKA_USER"), "Kafka principal (SCRAM-SHA-512 user; default $HEIMDALL_KAFKA_USER); its password is read from $HEIMDALL_KAFKA_PASSWORD")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	o := options{caFile: *caFile, schemaDir: *schemaDir, fromBeginning: *fromBeginning, max: *maxRecords, group: *group, timeout: *timeout,
		user: *user, password: os.Getenv("HEIMDALL_KAFKA_PASSWORD")}
	o.brokers = splitList(*brokers)
	o.topics = splitList(*topic)
	var errs []error
	if len(o.brokers) == 0 {
		errs = append(errs, errors.New("-brokers is required (or set HEIMDALL_KAFKA_BROKERS)"))
	}
	if len(o.topics) == 0 {
		errs = append(errs, errors.New("-topic is required"))
	}
	if o.user == "" || o.password == "" {
		errs = append(errs, errors.New("-user (or HEIMDALL_KAFKA_USER) and HEIMDALL_KAFKA_PASSWORD are required: the brokers authenticate every client"))
	}
	if o.max < 0 {
		errs = append(errs, errors.New("-max must not be negative"))
	}
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected arguments: %q", fs.Args()))
	}
	return o, errors.Join(errs...)
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "consumer-go:", err)
		}
		return 2
	}
	reg, err := loadSchemas(o.schemaDir)
	if err != nil {
		fmt.Fprintln(stderr, "consumer-go:", err)
		return 1
	}
	tlsCfg, err := tlsConfig(o.caFile)
	if err != nil {
		fmt.Fprintln(stderr, "consumer-go:", err)
		return 1
	}
	if err := consume(o, reg, tlsCfg, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "consumer-go:", err)
		return 1
	}
	return 0
}

// tlsConfig is TLS 1.3 only, trusting caFile (or the system roots).
func tlsConfig(caFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS13}
	if caFile == "" {
		return cfg, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("reading the CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA file %s holds no PEM certificate", caFile)
	}
	cfg.RootCAs = pool
	return cfg, nil
}

func consume(o options, reg *registry, tlsCfg *tls.Config, stdout, stderr io.Writer) error {
	reset := kgo.NewOffset().AtEnd()
	if o.fromBeginning {
		reset = kgo.NewOffset().AtStart()
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(o.brokers...),
		kgo.DialTLSConfig(tlsCfg),
		kgo.SASL(scram.Auth{User: o.user, Pass: o.password}.AsSha512Mechanism()),
		kgo.ClientID("heimdall-example-consumer-go"),
		kgo.ConsumeTopics(o.topics...),
		kgo.ConsumeResetOffset(reset),
	}
	if o.group != "" {
		// Commit only what was printed: at-least-once, so a restart may
		// print an event again; dedupe by event_id downstream.
		opts = append(opts, kgo.ConsumerGroup(o.group), kgo.AutoCommitMarks())
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var deadline context.Context = ctx
	if o.timeout > 0 {
		var cancel context.CancelFunc
		deadline, cancel = context.WithTimeout(ctx, o.timeout)
		defer cancel()
	}

	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	n := 0
	commit := func() {
		if o.group == "" {
			return
		}
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := cl.CommitMarkedOffsets(cctx); err != nil {
			fmt.Fprintln(stderr, "consumer-go: committing offsets:", err)
		}
	}
	defer commit()
	for o.max == 0 || n < o.max {
		fetches := cl.PollFetches(deadline)
		if deadline.Err() != nil {
			if ctx.Err() == nil && o.max > 0 {
				return fmt.Errorf("timed out after %v: %d of %d records read", o.timeout, n, o.max)
			}
			return nil // interrupted, or -timeout without -max
		}
		var ferr error
		fetches.EachError(func(topic string, p int32, err error) {
			ferr = errors.Join(ferr, fmt.Errorf("fetching %s/%d: %w", topic, p, err))
		})
		if ferr != nil {
			return ferr
		}
		for it := fetches.RecordIter(); !it.Done() && (o.max == 0 || n < o.max); {
			rec := it.Next()
			line, skip, err := reg.decode(rec)
			if err != nil {
				return fmt.Errorf("record %s/%d@%d: %w", rec.Topic, rec.Partition, rec.Offset, err)
			}
			if skip != "" {
				fmt.Fprintf(stderr, "consumer-go: skipping record %s/%d@%d: %s\n", rec.Topic, rec.Partition, rec.Offset, skip)
			} else if err := enc.Encode(line); err != nil {
				return fmt.Errorf("record %s/%d@%d: writing JSON: %w", rec.Topic, rec.Partition, rec.Offset, err)
			}
			if o.group != "" {
				cl.MarkCommitRecords(rec)
			}
			n++
		}
	}
	return nil
}

// schemaFile is one <record>.v<N>.avsc file.
type schemaFile struct {
	file    string
	record  string // full name
	version int
	schema  avro.Schema
}

// registry finds schemas by fingerprint and decodes with the newest version
// of each record as the reader.
type registry struct {
	byFingerprint map[[8]byte]*schemaFile
	newest        map[string]*schemaFile
	resolved      map[*schemaFile]avro.Schema
}

var fileName = regexp.MustCompile(`^([a-z0-9_]+)\.v([0-9]+)\.avsc$`)

// loadSchemas reads every schema file of dir. Each file is parsed on its
// own (versions of one record share names) and indexed under two
// fingerprints: the one Heimdall writes (CRC-64-AVRO of the canonical form
// with logical types kept) and the one of the Avro specification's Parsing
// Canonical Form (logical types stripped); they differ only for schemas with
// logical types.
func loadSchemas(dir string) (*registry, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.avsc"))
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no *.avsc schema file in %s (-schemas)", dir)
	}
	sort.Strings(names)
	reg := &registry{byFingerprint: map[[8]byte]*schemaFile{}, newest: map[string]*schemaFile{}, resolved: map[*schemaFile]avro.Schema{}}
	for _, path := range names {
		base := filepath.Base(path)
		m := fileName.FindStringSubmatch(base)
		if m == nil {
			return nil, fmt.Errorf("schema file %s: name is not <record>.v<N>.avsc", base)
		}
		version, _ := strconv.Atoi(m[2])
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		s, err := avro.ParseBytesWithCache(raw, "", &avro.SchemaCache{})
		if err != nil {
			return nil, fmt.Errorf("schema file %s: %w", base, err)
		}
		named, ok := s.(avro.NamedSchema)
		if !ok {
			return nil, fmt.Errorf("schema file %s: top level is not a named schema", base)
		}
		sf := &schemaFile{file: base, record: named.FullName(), version: version, schema: s}
		var doc any
		if err := json.Unmarshal(raw, &doc); err != nil {
			return nil, fmt.Errorf("schema file %s: %w", base, err)
		}
		withLogical, err := canonicalForm(doc, true)
		if err != nil {
			return nil, fmt.Errorf("schema file %s: %w", base, err)
		}
		spec, err := canonicalForm(doc, false)
		if err != nil {
			return nil, fmt.Errorf("schema file %s: %w", base, err)
		}
		// Cross-check the canonical form above with the Avro library's.
		lib, err := s.FingerprintUsing(avro.CRC64AvroLE)
		if err != nil {
			return nil, err
		}
		fp := fingerprint(withLogical)
		if !bytes.Equal(lib, fp[:]) {
			return nil, fmt.Errorf("schema file %s: fingerprint %x differs from the Avro library's %x", base, fp, lib)
		}
		for _, f := range [][8]byte{fp, fingerprint(spec)} {
			if prev, dup := reg.byFingerprint[f]; dup && prev != sf {
				return nil, fmt.Errorf("schema files %s and %s have the same canonical form", prev.file, base)
			}
			reg.byFingerprint[f] = sf
		}
		if cur, ok := reg.newest[sf.record]; !ok || sf.version > cur.version {
			reg.newest[sf.record] = sf
		}
	}
	if reg.newest[envelopeRecord] == nil {
		return nil, fmt.Errorf("no schema file for %s in %s", envelopeRecord, dir)
	}
	return reg, nil
}

// api bounds what decoding a record may allocate.
var api = avro.Config{MaxSliceAllocSize: 1 << 16, MaxByteSliceSize: 16 << 20}.Freeze()

var errNotSingleObject = errors.New("not an Avro single-object encoding (want 0xC3 0x01, an 8-byte fingerprint, the body)")

// decodeSingleObject decodes a single-object encoding of the named record:
// bytes 0-1 are 0xC3 0x01, bytes 2-9 the writer schema's CRC-64-AVRO
// fingerprint (little-endian), the rest the Avro binary body.
func (r *registry) decodeSingleObject(record string, b []byte) (map[string]any, *schemaFile, error) {
	if len(b) < 10 || b[0] != 0xC3 || b[1] != 0x01 {
		return nil, nil, errNotSingleObject
	}
	var fp [8]byte
	copy(fp[:], b[2:10])
	writer := r.byFingerprint[fp]
	if writer == nil {
		return nil, nil, fmt.Errorf("writer schema fingerprint %x (CRC-64-AVRO %016x) is in no schema file: update the schema files", fp, binary.LittleEndian.Uint64(fp[:]))
	}
	if writer.record != record {
		return nil, nil, fmt.Errorf("writer schema %s is %s, want %s", writer.file, writer.record, record)
	}
	schema, err := r.reader(writer)
	if err != nil {
		return nil, nil, err
	}
	var v any
	if err := api.Unmarshal(schema, b[10:], &v); err != nil {
		return nil, nil, fmt.Errorf("decoding %s: %w", writer.file, err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, nil, fmt.Errorf("decoding %s: got %T, want a record", writer.file, v)
	}
	return m, writer, nil
}

// reader is the schema data written with writer is decoded with: the newest
// version of its record, resolved against the writer.
func (r *registry) reader(writer *schemaFile) (avro.Schema, error) {
	newest := r.newest[writer.record]
	if newest == writer {
		return writer.schema, nil
	}
	if s, ok := r.resolved[writer]; ok {
		return s, nil
	}
	s, err := avro.NewSchemaCompatibility().Resolve(newest.schema, writer.schema)
	if err != nil {
		return nil, fmt.Errorf("%s cannot read data written with %s: %w", newest.file, writer.file, err)
	}
	r.resolved[writer] = s
	return s, nil
}

// decode turns one Kafka record into its output line, or says why it is
// skipped.
func (r *registry) decode(rec *kgo.Record) (map[string]any, string, error) {
	env, envSchema, err := r.decodeSingleObject(envelopeRecord, rec.Value)
	if err != nil {
		return nil, "", fmt.Errorf("envelope: %w", err)
	}
	typ, _ := env["event_type"].(string)
	record, known := eventTypes[typ]
	if !known {
		return nil, fmt.Sprintf("unknown event type %q (event %v)", typ, env["event_id"]), nil
	}
	raw, ok := env["payload"].([]byte)
	if !ok {
		return nil, "", fmt.Errorf("envelope: payload is %T, want bytes", env["payload"])
	}
	payload, payloadSchema, err := r.decodeSingleObject(record, raw)
	if err != nil {
		return nil, "", fmt.Errorf("%s payload: %w", typ, err)
	}
	env["payload"] = payload
	headers := map[string]string{}
	for _, h := range rec.Headers {
		headers[h.Key] = string(h.Value)
	}
	return map[string]any{
		"topic":           rec.Topic,
		"partition":       rec.Partition,
		"offset":          rec.Offset,
		"key":             string(rec.Key),
		"timestamp":       formatTime(rec.Timestamp),
		"headers":         headers,
		"envelope_schema": envSchema.file,
		"payload_schema":  payloadSchema.file,
		"event":           toJSON(env),
	}, "", nil
}

// toJSON makes a decoded Avro value JSON-friendly: timestamps as RFC 3339
// strings, bytes as base64, non-finite floats as strings.
func toJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = toJSON(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = toJSON(e)
		}
		return out
	case time.Time:
		return formatTime(x)
	case []byte:
		return base64.StdEncoding.EncodeToString(x)
	case float32:
		if f := float64(x); math.IsNaN(f) || math.IsInf(f, 0) {
			return nonFinite(f)
		}
		return x
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nonFinite(x)
		}
		return x
	}
	return v
}

func nonFinite(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case f > 0:
		return "Infinity"
	}
	return "-Infinity"
}

func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

// canonicalForm is the Avro Parsing Canonical Form of a schema (JSON as
// decoded by encoding/json). With keepLogical, a logical type the Avro
// specification defines stays right after "type" (with a decimal's
// precision and scale), which is the form Heimdall's fingerprints are
// computed over.
func canonicalForm(schema any, keepLogical bool) (string, error) {
	var b strings.Builder
	err := writeCanonical(&b, schema, "", keepLogical)
	return b.String(), err
}

var primitives = map[string]bool{"null": true, "boolean": true, "int": true, "long": true, "float": true, "double": true, "bytes": true, "string": true}

func fullName(name, namespace string) (full, ns string) {
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		return name, name[:i]
	}
	if namespace == "" {
		return name, ""
	}
	return namespace + "." + name, namespace
}

func writeCanonical(b *strings.Builder, s any, ns string, keepLogical bool) error {
	switch x := s.(type) {
	case string:
		if primitives[x] {
			b.WriteString(strconv.Quote(x))
		} else {
			full, _ := fullName(x, ns)
			b.WriteString(strconv.Quote(full))
		}
		return nil
	case []any:
		b.WriteByte('[')
		for i, t := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeCanonical(b, t, ns, keepLogical); err != nil {
				return err
			}
		}
		b.WriteByte(']')
		return nil
	case map[string]any:
		return writeCanonicalObject(b, x, ns, keepLogical)
	}
	return fmt.Errorf("not a schema: %v", s)
}

func writeCanonicalObject(b *strings.Builder, m map[string]any, ns string, keepLogical bool) error {
	typ, ok := m["type"].(string)
	if !ok {
		return writeCanonical(b, m["type"], ns, keepLogical) // {"type": {...}} or {"type": [...]}
	}
	logical, _ := m["logicalType"].(string)
	if primitives[typ] {
		suffix := ""
		if keepLogical {
			suffix = primitiveLogical(typ, logical, m)
		}
		if suffix == "" {
			b.WriteString(strconv.Quote(typ))
		} else {
			b.WriteString(`{"type":` + strconv.Quote(typ) + suffix + `}`)
		}
		return nil
	}
	switch typ {
	case "record", "error", "enum", "fixed":
		name, _ := m["name"].(string)
		if name == "" {
			return fmt.Errorf("%s without a name", typ)
		}
		if s, ok := m["namespace"].(string); ok && !strings.Contains(name, ".") {
			ns = s
		}
		full, inner := fullName(name, ns)
		b.WriteString(`{"name":` + strconv.Quote(full) + `,"type":` + strconv.Quote(typ))
		switch typ {
		case "record", "error":
			fields, _ := m["fields"].([]any)
			b.WriteString(`,"fields":[`)
			for i, f := range fields {
				fm, ok := f.(map[string]any)
				if !ok {
					return fmt.Errorf("record %s: a field is not an object", full)
				}
				if i > 0 {
					b.WriteByte(',')
				}
				fname, _ := fm["name"].(string)
				b.WriteString(`{"name":` + strconv.Quote(fname) + `,"type":`)
				if err := writeCanonical(b, fm["type"], inner, keepLogical); err != nil {
					return err
				}
				b.WriteByte('}')
			}
			b.WriteByte(']')
		case "enum":
			symbols, _ := m["symbols"].([]any)
			b.WriteString(`,"symbols":[`)
			for i, sym := range symbols {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString(strconv.Quote(fmt.Sprint(sym)))
			}
			b.WriteByte(']')
		case "fixed":
			size, _ := m["size"].(float64)
			b.WriteString(`,"size":` + strconv.Itoa(int(size)))
			if keepLogical {
				b.WriteString(fixedLogical(int(size), logical, m))
			}
		}
		b.WriteByte('}')
		return nil
	case "array":
		b.WriteString(`{"type":"array","items":`)
		if err := writeCanonical(b, m["items"], ns, keepLogical); err != nil {
			return err
		}
		b.WriteByte('}')
		return nil
	case "map":
		b.WriteString(`{"type":"map","values":`)
		if err := writeCanonical(b, m["values"], ns, keepLogical); err != nil {
			return err
		}
		b.WriteByte('}')
		return nil
	}
	// A reference to a named type written as {"type": "Name"}.
	return writeCanonical(b, typ, ns, keepLogical)
}

// primitiveLogical is what the canonical form with logical types adds after
// "type" of a primitive: "" when the logical type is absent or not valid
// for it.
func primitiveLogical(typ, logical string, m map[string]any) string {
	switch typ + "/" + logical {
	case "string/uuid", "int/date", "int/time-millis", "long/time-micros", "long/timestamp-millis",
		"long/timestamp-micros", "long/local-timestamp-millis", "long/local-timestamp-micros":
		return `,"logicalType":"` + logical + `"`
	case "bytes/decimal":
		return decimal(m, -1)
	}
	return ""
}

func fixedLogical(size int, logical string, m map[string]any) string {
	switch {
	case logical == "duration" && size == 12:
		return `,"logicalType":"duration"`
	case logical == "decimal":
		return decimal(m, size)
	}
	return ""
}

func decimal(m map[string]any, size int) string {
	prec, _ := m["precision"].(float64)
	scale, _ := m["scale"].(float64)
	if prec <= 0 || scale < 0 || scale > prec {
		return ""
	}
	if size > 0 && int(prec) > int(math.Floor(math.Log10(math.Pow(2, 8*float64(size))-1))) {
		return ""
	}
	s := `,"logicalType":"decimal","precision":` + strconv.Itoa(int(prec))
	if scale > 0 {
		s += `,"scale":` + strconv.Itoa(int(scale))
	}
	return s
}

// fingerprint is the CRC-64-AVRO (Rabin) fingerprint of a canonical form, in
// the byte order it has on the wire (little-endian).
func fingerprint(canonical string) [8]byte {
	fp := uint64(crcEmpty)
	for i := 0; i < len(canonical); i++ {
		fp = (fp >> 8) ^ crcTable[byte(fp)^canonical[i]]
	}
	var out [8]byte
	binary.LittleEndian.PutUint64(out[:], fp)
	return out
}

const crcEmpty = 0xc15d213aa4d7a795

var crcTable = func() (t [256]uint64) {
	for i := range t {
		fp := uint64(i)
		for j := 0; j < 8; j++ {
			fp = (fp >> 1) ^ (crcEmpty & -(fp & 1))
		}
		t[i] = fp
	}
	return t
}()

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
