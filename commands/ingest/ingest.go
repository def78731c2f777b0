package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/internal/format"
	"github.com/heimdallhub/heimdall/internal/format/decompress"
	"github.com/heimdallhub/heimdall/internal/pii/policy"
)

// Errors of the ingest command; the HTTP edge maps them to statuses.
var (
	// ErrLogUnavailable: the event log did not acknowledge every event, so
	// the request as a whole is not accepted. Retrying it with the same
	// batch id is safe: event ids are deterministic.
	ErrLogUnavailable = errors.New("event log did not acknowledge the batch")
	// ErrUnsupportedFormat: the requested format is not known.
	ErrUnsupportedFormat = errors.New("unsupported format")
	// ErrUnknownProfile: the requested profile is not known.
	ErrUnknownProfile = errors.New("unknown profile")
	// ErrBadRequest: the command itself is invalid.
	ErrBadRequest = errors.New("invalid ingest request")
)

// InputError is a failure of the upload as a whole (bad encoding, a
// decompression bomb, a truncated stream, limits). Records before the
// failure were appended and are counted in Result.
type InputError struct {
	Failure *format.Failure
	Result  Result
}

func (e *InputError) Error() string { return "input rejected: " + e.Failure.Error() }

func (e *InputError) Unwrap() error { return e.Failure }

// Log is where the command appends records: Kafka in production. done is
// called once per record, with nil only when the record is durably
// acknowledged.
type Log interface {
	Append(ctx context.Context, topic string, key, value []byte, headers map[string]string, done func(error))
}

// Encoder turns events into log record values.
type Encoder interface {
	Encode(events.Event) ([]byte, error)
}

// Command is one upload.
type Command struct {
	Body io.Reader
	// ContentEncoding is the body's compression (gzip, zstd, identity);
	// empty means recognise it by magic bytes.
	ContentEncoding string
	// Format is one of Formats, or "" / "auto" to recognise it.
	Format string
	// Delimiter overrides the CSV/TSV field delimiter.
	Delimiter rune
	// Profile names the mapping profile; empty chooses one per record by
	// format and record facts (for example the Zeek log path).
	Profile   string
	Source    string
	File      string
	Actor     events.Actor
	RequestID string
	// BatchID is BatchID(Actor, Key): event ids derive from it, so they
	// differ between actors and repeat for the same actor and key.
	BatchID string
	// Key is the client's key the batch id was derived from (its
	// Idempotency-Key), for messages that tell it how to re-send.
	Key string
	// Headers are added to every Kafka record (for example traceparent).
	Headers map[string]string
}

// Reject locates one record that was not accepted.
type Reject struct {
	Line       int64  `json:"line"`
	ByteOffset int64  `json:"byte_offset"`
	Code       string `json:"code"`
	Reason     string `json:"reason"`
}

// Result accounts for every record read:
// Rows == Accepted + Rejected + Duplicates.
type Result struct {
	BatchID    string   `json:"batch_id"`
	Format     string   `json:"format"`
	Rows       int64    `json:"rows"`
	Accepted   int64    `json:"accepted"`
	Rejected   int64    `json:"rejected"`
	Duplicates int64    `json:"duplicates"`
	Events     int64    `json:"events"`
	Rejects    []Reject `json:"rejects"`
	// RejectsTruncated is set when more rejects happened than are listed;
	// all of them are on the rejects topic.
	RejectsTruncated bool `json:"rejects_truncated"`
}

// Options configure a Handler.
type Options struct {
	PeerID       string
	EventsTopic  string
	RejectsTopic string
	// AuditTopic receives one audit.recorded event per batch (counts,
	// source, file, format; never values); empty disables it.
	AuditTopic    string
	MaxRejectList int
	// Limits bound what one record may cost; Decompress what a compressed
	// body may cost.
	Limits     format.Limits
	Decompress decompress.Limits
	// PII applies the personal-data policy to every value before it is
	// appended; required. Events carry its version and the highest level of
	// the fields they hold; rejects carry the highest level.
	PII Guard
	// DuplicateWindow bounds the memory used to recognise repeated records
	// within a batch: the digests of this many distinct records are kept.
	DuplicateWindow int
	Profiles        map[string]*Profile
	// Progress, when set, is told the running counts of a batch every
	// progressEvery rows.
	Progress func(batchID string, r Result)
	Clock    *events.Clock
	Now      func() time.Time
}

// RejectsProfile and RejectRawField name the policy rule a rejected
// record's raw bytes go through before they are stored.
const (
	RejectsProfile = "rejects"
	RejectRawField = "raw"
)

// maxRejectContent bounds the raw bytes kept of a record rejected after
// parsing (its fields, as JSON).
const maxRejectContent = 4096

// highestRank names the highest classification level (Guard.Level clamps).
const highestRank = int(^uint(0) >> 1)

// Handler executes ingest commands.
type Handler struct {
	log  Log
	enc  Encoder
	opts Options
}

// New returns a handler appending to log.
func New(log Log, enc Encoder, o Options) (*Handler, error) {
	o.Limits = o.Limits.WithDefaults()
	if o.DuplicateWindow <= 0 {
		o.DuplicateWindow = 1 << 18
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Clock == nil {
		o.Clock = events.NewClock(o.Now)
	}
	if o.Profiles == nil {
		ps, err := BuiltinProfiles()
		if err != nil {
			return nil, err
		}
		o.Profiles = ps
	}
	var errs []error
	if o.PeerID == "" {
		errs = append(errs, errors.New("ingest: peer id required"))
	}
	if o.PII == nil {
		errs = append(errs, errors.New("ingest: the PII policy engine is required"))
	}
	if o.EventsTopic == "" || o.RejectsTopic == "" {
		errs = append(errs, errors.New("ingest: events and rejects topics required"))
	}
	return &Handler{log: log, enc: enc, opts: o}, errors.Join(errs...)
}

// Handle streams cmd.Body and returns the accounting of the batch. It returns
// an error (and no accepted records) when the request as a whole fails; an
// *InputError when the input turned out bad part-way (what came before it is
// in the log and counted).
func (h *Handler) Handle(ctx context.Context, cmd Command) (Result, error) {
	if cmd.Profile != "" {
		if _, ok := h.opts.Profiles[cmd.Profile]; !ok {
			return Result{}, fmt.Errorf("%w: %q", ErrUnknownProfile, cmd.Profile)
		}
	}
	if cmd.BatchID == "" || cmd.Actor.Subject == "" || cmd.RequestID == "" {
		return Result{}, fmt.Errorf("%w: batch id, actor and request id are required", ErrBadRequest)
	}
	if cmd.Source == "" {
		cmd.Source = "upload"
	}
	// File names are free text the uploader chose (a path may hold a user
	// name): they reach the log scrubbed, like every other free text.
	if s, ok := h.opts.PII.(interface{ Scrub(string) string }); ok && cmd.File != "" {
		cmd.File = s.Scrub(cmd.File)
	}
	reader, formatName, closeInput, err := h.openInput(cmd)
	if err != nil {
		var f *format.Failure
		if errors.As(err, &f) {
			return Result{}, &InputError{Failure: f}
		}
		return Result{}, err
	}
	defer closeInput()
	cmd.Format = formatName

	b := &batch{h: h, cmd: cmd, ctx: ctx, seen: map[[16]byte]struct{}{}, profiles: map[string]*Profile{}}
	b.res.BatchID = cmd.BatchID
	b.res.Format = formatName
	for {
		rec, err := reader.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			b.wait()
			if lerr := b.err(); lerr != nil {
				return b.res, fmt.Errorf("%w: %v", ErrLogUnavailable, lerr)
			}
			var f *format.Failure
			if errors.As(err, &f) {
				if aerr := b.audit("failed"); aerr != nil {
					return b.res, fmt.Errorf("%w: %v", ErrLogUnavailable, aerr)
				}
				return b.res, &InputError{Failure: f, Result: b.res}
			}
			return b.res, fmt.Errorf("reading upload: %w", err)
		}
		b.res.Rows++
		b.record(rec)
		if b.failed() {
			break
		}
		if h.opts.Progress != nil && b.res.Rows%progressEvery == 0 {
			h.opts.Progress(cmd.BatchID, b.res)
		}
	}
	b.wait()
	if err := b.err(); err != nil {
		return b.res, fmt.Errorf("%w: %v", ErrLogUnavailable, err)
	}
	if err := b.audit("done"); err != nil {
		return b.res, fmt.Errorf("%w: %v", ErrLogUnavailable, err)
	}
	return b.res, nil
}

// audit appends the batch's audit event and waits for it: a batch is
// reported accepted only once its audit record is in the log too.
func (b *batch) audit(outcome string) error {
	if b.h.opts.AuditTopic == "" {
		return nil
	}
	r := b.res
	hlc := b.h.opts.Clock.Now()
	d := func(name string, v any) events.AuditDetail {
		return events.AuditDetail{Name: name, Value: fmt.Sprint(v)}
	}
	b.append(b.h.opts.AuditTopic, events.Event{
		ID:             events.DeterministicID(hlc.Time(), b.cmd.BatchID, "audit", b.cmd.RequestID),
		Key:            b.cmd.Actor.Subject, // one actor's trail stays in order
		OriginPeer:     b.h.opts.PeerID,
		Vector:         events.VersionVector{b.h.opts.PeerID: int64(hlc)},
		HLC:            hlc,
		Actor:          b.cmd.Actor,
		RequestID:      b.cmd.RequestID,
		BatchID:        b.cmd.BatchID,
		RecordedAt:     hlc.Time(),
		Provenance:     events.Provenance{Source: b.cmd.Source, Format: b.cmd.Format, File: b.cmd.File},
		Classification: b.h.opts.PII.Level(0),
		PolicyVersion:  b.h.opts.PII.Version(),
		Payload: events.AuditRecorded{Action: "ingest", Outcome: outcome, Records: []string{b.cmd.BatchID}, Details: []events.AuditDetail{
			d("batch_id", b.cmd.BatchID), d("source", b.cmd.Source), d("file", b.cmd.File), d("format", b.cmd.Format),
			d("rows", r.Rows), d("accepted", r.Accepted), d("rejected", r.Rejected), d("duplicates", r.Duplicates), d("events", r.Events),
		}},
	})
	b.wait()
	return b.err()
}

// progressEvery is how often (in rows) Options.Progress is told.
const progressEvery = 10000

// batch is the state of one Handle call.
type batch struct {
	h        *Handler
	cmd      Command
	ctx      context.Context
	res      Result
	seen     map[[16]byte]struct{}
	profiles map[string]*Profile // chosen profile by format facts

	wg       sync.WaitGroup
	mu       sync.Mutex
	firstErr error
}

func (b *batch) record(rec format.Record) {
	if rec.Reject != nil {
		b.reject(rec, rec.Reject.Code, rec.Reject.Reason)
		return
	}
	digest := recordDigest(rec.Fields)
	if _, dup := b.seen[digest]; dup {
		b.res.Duplicates++
		return
	}
	profile := b.profileFor(rec.Meta)
	if profile == nil {
		b.reject(rec, "no_profile", fmt.Sprintf("no mapping profile for %s records%s; name one with the profile parameter", b.cmd.Format, describeMeta(rec.Meta)))
		return
	}
	m, err := mapRecord(profile, b.h.opts.PII, rec.Fields, b.h.opts.Now())
	if err != nil {
		var me *mappingError
		if errors.As(err, &me) {
			b.reject(rec, me.code, me.reason)
		} else {
			b.reject(rec, "invalid_record", "record could not be mapped")
		}
		return
	}
	if len(m.entities) == 0 {
		b.reject(rec, "no_observables", "record holds no field the profile maps to an observable")
		return
	}
	if len(b.seen) >= b.h.opts.DuplicateWindow {
		clear(b.seen)
	}
	b.seen[digest] = struct{}{}

	prov := events.Provenance{Source: b.cmd.Source, Format: b.cmd.Format, File: b.cmd.File, Line: rec.Line, ByteOffset: rec.Offset}
	line := strconv.FormatInt(rec.Line, 10)
	n := 0
	emit := func(key string, p events.Payload, observed time.Time, rank int) bool {
		hlc := b.h.opts.Clock.Now()
		ev := events.Event{
			ID:             events.DeterministicID(observed, b.cmd.BatchID, line, strconv.Itoa(n)),
			Key:            key,
			OriginPeer:     b.h.opts.PeerID,
			Vector:         events.VersionVector{b.h.opts.PeerID: int64(hlc)},
			HLC:            hlc,
			Actor:          b.cmd.Actor,
			RequestID:      b.cmd.RequestID,
			BatchID:        b.cmd.BatchID,
			RecordedAt:     hlc.Time(),
			Provenance:     prov,
			Classification: b.h.opts.PII.Level(rank),
			PolicyVersion:  b.h.opts.PII.Version(),
			Payload:        p,
		}
		n++
		return b.append(b.h.opts.EventsTopic, ev)
	}
	for _, e := range m.entities {
		if !emit(e.key, events.EntityObserved{Kind: e.kind, Value: e.value, ObservedAt: m.observedAt, Attributes: []events.Attribute{}}, m.observedAt, e.rank) {
			return
		}
	}
	for _, r := range m.relations {
		if !emit(r.key, r.payload(m.observedAt), m.observedAt, r.rank) {
			return
		}
	}
	b.res.Accepted++
	b.res.Events += int64(n)
}

func (b *batch) reject(rec format.Record, code, reason string) {
	// Reasons never quote values, but some name input-controlled things
	// (a Zeek #fields name, say): scrub them like free text.
	reason, _, _ = b.h.opts.PII.Apply(policy.Rule{Action: policy.ActionScrub}, "", "reason", reason)
	b.res.Rejected++
	if len(b.res.Rejects) < b.h.opts.MaxRejectList {
		b.res.Rejects = append(b.res.Rejects, Reject{Line: rec.Line, ByteOffset: rec.Offset, Code: code, Reason: reason})
	} else {
		b.res.RejectsTruncated = true
	}
	content, truncated := b.rejectContent(rec)
	hlc := b.h.opts.Clock.Now()
	b.append(b.h.opts.RejectsTopic, events.Event{
		ID:             events.DeterministicID(hlc.Time(), b.cmd.BatchID, strconv.FormatInt(rec.Line, 10), "reject"),
		Key:            b.cmd.BatchID, // a batch's rejects stay together, in order
		OriginPeer:     b.h.opts.PeerID,
		Vector:         events.VersionVector{b.h.opts.PeerID: int64(hlc)},
		HLC:            hlc,
		Actor:          b.cmd.Actor,
		RequestID:      b.cmd.RequestID,
		BatchID:        b.cmd.BatchID,
		RecordedAt:     hlc.Time(),
		Provenance:     events.Provenance{Source: b.cmd.Source, Format: b.cmd.Format, File: b.cmd.File, Line: rec.Line, ByteOffset: rec.Offset},
		Classification: b.h.opts.PII.Level(highestRank),
		PolicyVersion:  b.h.opts.PII.Version(),
		Payload:        events.IngestRejected{Code: code, Reason: reason, Content: content, ContentTruncated: truncated},
	})
}

// RejectRecordKey is the record a rejected line's sealed content is bound
// to: "<batch id>/<line>".
func RejectRecordKey(batchID string, line int64) string {
	return batchID + "/" + strconv.FormatInt(line, 10)
}

// rejectContent passes a rejected record's raw bytes (or, when it was
// rejected after parsing, its fields as JSON) through the policy rule of
// RejectsProfile/RejectRawField. The result is "" when the policy drops it
// or could not treat it: raw input never reaches the log untreated.
func (b *batch) rejectContent(rec format.Record) (string, bool) {
	raw, truncated := rec.Raw, rec.RawTruncated
	if raw == nil && rec.Fields != nil {
		j, err := json.Marshal(rec.Fields)
		if err != nil {
			return "", false
		}
		raw = j
	}
	if len(raw) == 0 {
		return "", false
	}
	if len(raw) > maxRejectContent {
		raw, truncated = raw[:maxRejectContent], true
	}
	g := b.h.opts.PII
	rule := g.Rule(RejectsProfile, RejectRawField)
	out, drop, err := g.Apply(rule, RejectRecordKey(b.cmd.BatchID, rec.Line), RejectRawField, strings.ToValidUTF8(string(raw), "\uFFFD"))
	if err != nil || drop {
		return "", false
	}
	return out, truncated
}

// append encodes ev and hands it to the log; it reports false once the batch
// has failed.
func (b *batch) append(topic string, ev events.Event) bool {
	if b.failed() {
		return false
	}
	value, err := b.h.enc.Encode(ev)
	if err != nil {
		b.fail(fmt.Errorf("encoding event: %w", err))
		return false
	}
	headers := map[string]string{"heimdall.event_type": ev.Payload.EventType()}
	for k, v := range b.cmd.Headers {
		headers[k] = v
	}
	b.wg.Add(1)
	b.h.log.Append(b.ctx, topic, []byte(ev.Key), value, headers, func(err error) {
		if err != nil {
			b.fail(err)
		}
		b.wg.Done()
	})
	return true
}

func (b *batch) fail(err error) {
	b.mu.Lock()
	if b.firstErr == nil {
		b.firstErr = err
	}
	b.mu.Unlock()
}

func (b *batch) failed() bool { return b.err() != nil }

func (b *batch) err() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.firstErr
}

func (b *batch) wait() { b.wg.Wait() }

// profileFor chooses the profile of a record: the one the upload names, else
// the most specific whose match fits the format and the record's facts.
func (b *batch) profileFor(meta map[string]string) *Profile {
	if b.cmd.Profile != "" {
		return b.h.opts.Profiles[b.cmd.Profile]
	}
	key := describeMeta(meta)
	if p, ok := b.profiles[key]; ok {
		return p
	}
	var best *Profile
	for _, p := range b.h.opts.Profiles {
		if !p.Matches(b.cmd.Format, meta) {
			continue
		}
		if best == nil || p.specificity() > best.specificity() ||
			(p.specificity() == best.specificity() && p.Name < best.Name) {
			best = p
		}
	}
	b.profiles[key] = best
	return best
}

// describeMeta renders record facts for messages and cache keys (format
// facts such as a Zeek path are not personal data).
func describeMeta(meta map[string]string) string {
	if len(meta) == 0 {
		return ""
	}
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sb strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&sb, " %s=%s", k, safeFact(meta[k]))
	}
	return " with" + sb.String()
}

// safeFact keeps a format fact printable and short.
func safeFact(s string) string {
	if len(s) > 40 {
		s = s[:40]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
}

// recordDigest identifies a record's content for duplicate detection: a
// hash over a canonical walk of the fields (keys sorted, types tagged,
// lengths prefixed), without reflection.
func recordDigest(fields map[string]any) [16]byte {
	h := sha256.New()
	var scratch [9]byte
	writeValue(h, fields, scratch[:])
	var d [16]byte
	copy(d[:], h.Sum(nil))
	return d
}

func writeValue(h hash.Hash, v any, scratch []byte) {
	str := func(tag byte, s string) {
		scratch[0] = tag
		binary.BigEndian.PutUint64(scratch[1:], uint64(len(s)))
		h.Write(scratch)
		io.WriteString(h, s) //nolint:errcheck // hashes never fail
	}
	switch x := v.(type) {
	case nil:
		str('z', "")
	case string:
		str('s', x)
	case json.Number:
		str('n', string(x))
	case bool:
		if x {
			str('b', "t")
		} else {
			str('b', "f")
		}
	case []any:
		str('a', strconv.Itoa(len(x)))
		for _, e := range x {
			writeValue(h, e, scratch)
		}
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		str('m', strconv.Itoa(len(keys)))
		for _, k := range keys {
			str('k', k)
			writeValue(h, x[k], scratch)
		}
	default:
		str('?', fmt.Sprint(x))
	}
}
