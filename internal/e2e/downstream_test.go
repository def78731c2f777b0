package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/hamba/avro/v2/soe"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/internal/config/devstack"
	"github.com/heimdallhub/heimdall/internal/kafka"
	"github.com/heimdallhub/heimdall/schemas"
)

// TestDownstreamConsumersDecodeEveryEventType is the downstream contract
// (schemas/README.md) proven against the real broker: events of every type,
// written by Heimdall's codec (including an ingest.rejected written with the
// old v1 schema and an event of a type no consumer knows), go to a fresh
// topic over TLS 1.3 with zstd batches; the Go example consumer
// (deploy/examples/consumer-go) and the Python one
// (deploy/examples/consumer-python, in a cached virtualenv) read them back
// from the schema files alone, and every field of every event, its Kafka
// key, headers, partition, offset and timestamp must come out as written;
// the unknown type is skipped, an event whose headers carry the Avro
// specification's fingerprints instead of Heimdall's decodes the same, and
// events of one key come out in the order they were written.
func TestDownstreamConsumersDecodeEveryEventType(t *testing.T) {
	requireStack(t)
	st := devstack.Env(t)
	root, err := devstack.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	python := pythonConsumerEnv(t, root) // first: a missing python3 fails at once

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	kc := kafkaConfig(t)
	cl, err := kafka.NewClient(kc,
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchCompression(kgo.ZstdCompression()), // Heimdall's default
	)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	topic := "heimdall.e2e.downstream." + randomSuffix()
	if err := kafka.EnsureTopics(ctx, cl, kafka.TopicSpec{Name: topic, Partitions: 3, ReplicationFactor: 1, Configs: kafka.EventLogConfigs(1)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		dctx, dcancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer dcancel()
		_, _ = kadm.NewClient(cl).DeleteTopics(dctx, topic)
	})

	// The consumers read as the downstream principal, granted this topic
	// alone (as the stack grants it heimdall.events).
	grantTopic(t, cl, devstack.KafkaDownstream, topic, kmsg.ACLOperationRead, kmsg.ACLOperationDescribe)

	codec, err := events.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	evs := downstreamEvents(t)
	records := make([]*kgo.Record, len(evs))
	for i, ev := range evs {
		value, err := codec.Encode(ev.event)
		if err != nil {
			t.Fatalf("encoding %s: %v", ev.name, err)
		}
		if _, err := codec.Decode(value); err != nil {
			t.Fatalf("Heimdall's own codec cannot decode %s: %v", ev.name, err)
		}
		if ev.specFingerprints {
			value = withSpecFingerprints(t, value)
		}
		rec := &kgo.Record{Topic: topic, Key: []byte(ev.event.Key), Value: value}
		for _, k := range sortedKeys(ev.headers) {
			rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: k, Value: []byte(ev.headers[k])})
		}
		records[i] = rec
	}
	// One at a time, so events of one key are in the log in this order.
	for i, rec := range records {
		if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatalf("producing %s: %v", evs[i].name, err)
		}
	}
	want := map[string]map[string]any{} // event id -> expected output line
	var skippedIDs []string
	for i, ev := range evs {
		if ev.unknown {
			skippedIDs = append(skippedIDs, ev.event.ID.String())
			continue
		}
		want[ev.event.ID.String()] = expectedLine(ev, records[i])
	}
	if len(want) != len(evs)-1 || len(skippedIDs) != 1 {
		t.Fatalf("%d expected events, %d skipped", len(want), len(skippedIDs))
	}

	args := []string{
		"-brokers", strings.Join(st.KafkaBrokers, ","), "-ca-file", st.CAFile, "-topic", topic,
		"-schemas", filepath.Join(root, "schemas"), "-from-beginning", "-max", strconv.Itoa(len(evs)),
	}
	bin := filepath.Join(t.TempDir(), "consumer-go")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./deploy/examples/consumer-go")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the Go example consumer: %v\n%s", err, out)
	}
	consumers := []struct {
		name string
		cmd  *exec.Cmd
	}{
		{"go", exec.CommandContext(ctx, bin, append(args, "-timeout", "2m")...)},
		{"python", exec.CommandContext(ctx, python, append([]string{filepath.Join(root, "deploy/examples/consumer-python/consume.py")}, append(args, "-timeout", "120")...)...)},
	}
	for _, c := range consumers {
		c.cmd.Env = append(os.Environ(), "HEIMDALL_KAFKA_USER="+devstack.KafkaDownstream,
			"HEIMDALL_KAFKA_PASSWORD="+st.KafkaPassword(t, devstack.KafkaDownstream))
	}
	outputs := map[string]map[string]map[string]any{}
	for _, c := range consumers {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			c.cmd.Dir = t.TempDir() // nothing relies on the working directory
			c.cmd.Stdout, c.cmd.Stderr = &stdout, &stderr
			if err := c.cmd.Run(); err != nil {
				t.Fatalf("%s consumer: %v\nstderr:\n%s", c.name, err, stderr.String())
			}
			got, order := parseConsumerOutput(t, stdout.Bytes())
			outputs[c.name] = got
			for _, id := range skippedIDs {
				if _, printed := got[id]; printed {
					t.Errorf("event %s of an unknown type was printed, want it skipped", id)
				}
				if !strings.Contains(stderr.String(), "skipping") || !strings.Contains(stderr.String(), id) {
					t.Errorf("stderr does not report skipping event %s:\n%s", id, stderr.String())
				}
			}
			if len(got) != len(want) {
				t.Errorf("%d events printed, want %d", len(got), len(want))
			}
			for _, id := range sortedKeys(want) {
				line, ok := got[id]
				if !ok {
					t.Errorf("event %s (%s) not printed", id, want[id]["headers"].(map[string]any)["heimdall.event_type"])
					continue
				}
				if err := compareJSON("", want[id], line); err != nil {
					t.Errorf("event %s (%s): %v", id, want[id]["headers"].(map[string]any)["heimdall.event_type"], err)
				}
			}
			checkKeyOrder(t, evs, order)
		})
	}
	// Both consumers print the same events the same way (floats may be
	// spelled differently, numerically equal).
	if g, p := outputs["go"], outputs["python"]; g != nil && p != nil {
		for id, line := range g {
			if err := compareJSON("", line, p[id]); err != nil {
				t.Errorf("event %s: Go and Python output differ: %v", id, err)
			}
		}
	}
}

// TestDownstreamContractListsEverySchema keeps schemas/README.md honest:
// every schema file is listed with the fingerprint Heimdall writes for it
// (as it appears on the wire), and every event type Heimdall writes is
// documented.
func TestDownstreamContractListsEverySchema(t *testing.T) {
	root, err := devstack.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join(root, "schemas", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	list, err := events.LoadSchemas(schemas.FS)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(string(doc), "\n") {
		if m := regexp.MustCompile("^\\| `([a-z0-9_]+\\.v[0-9]+\\.avsc)` \\|").FindStringSubmatch(line); m != nil {
			rows[m[1]] = line
		}
	}
	for _, s := range list {
		var wire [8]byte
		binary.LittleEndian.PutUint64(wire[:], s.Fingerprint)
		row, ok := rows[s.File]
		if !ok {
			t.Errorf("schemas/README.md: no fingerprint row for %s", s.File)
			continue
		}
		if !strings.Contains(row, "`"+hex.EncodeToString(wire[:])+"`") {
			t.Errorf("schemas/README.md: the row of %s does not give its fingerprint %s:\n%s", s.File, hex.EncodeToString(wire[:]), row)
		}
		delete(rows, s.File)
	}
	for f := range rows {
		t.Errorf("schemas/README.md lists %s, which is not a schema file", f)
	}
	for _, typ := range []string{events.TypeEntityObserved, events.TypeRelationObserved, events.TypeIngestRejected,
		events.TypeClassificationChanged, events.TypeRetractionRequested, events.TypeAuditRecorded,
		events.TypeDecryptionAudited, events.TypeEnrichmentRecorded, events.TypeEnrichmentRequested} {
		if !strings.Contains(string(doc), "`"+typ+"`") {
			t.Errorf("schemas/README.md does not document event type %s", typ)
		}
		for _, ex := range []string{"consumer-go/main.go", "consumer-python/consume.py"} {
			b, err := os.ReadFile(filepath.Join(root, "deploy/examples", ex))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(b, []byte(`"`+typ+`"`)) {
				t.Errorf("deploy/examples/%s does not know event type %s", ex, typ)
			}
		}
	}
}

// downstreamEvent is one event the test writes and what the consumers must
// make of it.
type downstreamEvent struct {
	name    string
	event   events.Event
	headers map[string]string
	// payload is the expected payload JSON; payloadSchema the writer's file.
	payload       map[string]any
	payloadSchema string
	unknown       bool // an event type no consumer knows: skipped
	// specFingerprints: the envelope and payload headers carry the Avro
	// specification's fingerprints (logical types stripped) instead of
	// Heimdall's; consumers find the schemas under either.
	specFingerprints bool
}

// Fingerprints of envelope.v1.avsc and entity_observed.v1.avsc as the Avro
// specification's Parsing Canonical Form gives them (computed with
// fastavro's to_parsing_canonical_form and fingerprint(..., "CRC-64-AVRO");
// released files never change), and as Heimdall writes them.
const (
	specEnvelopeV1       = "4ca594af9c78c35b"
	specEntityObservedV1 = "0253a916a6a6d3fa"
	wireEnvelopeV1       = "eb1dcd12e3f900e5"
	wireEntityObservedV1 = "6a70d4b9bb8812cc"
)

// withSpecFingerprints rewrites an entity.observed event's two headers to
// the specification's fingerprints.
func withSpecFingerprints(t *testing.T, value []byte) []byte {
	t.Helper()
	hdr := func(fp string) []byte {
		b, err := hex.DecodeString("c301" + fp)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if !bytes.HasPrefix(value, hdr(wireEnvelopeV1)) || bytes.Count(value, hdr(wireEntityObservedV1)) != 1 {
		t.Fatalf("not an envelope.v1 holding an entity_observed.v1 payload: % x", value[:min(len(value), 32)])
	}
	out := bytes.Replace(value, hdr(wireEntityObservedV1), hdr(specEntityObservedV1), 1)
	copy(out, hdr(specEnvelopeV1))
	return out
}

func downstreamEvents(t *testing.T) []downstreamEvent {
	t.Helper()
	// Microsecond precision, the schemas' timestamp unit; not UTC on
	// purpose: the wire holds UTC.
	at := time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.FixedZone("CET", 3600))
	run := randomSuffix()
	ipKey := "ipv4-addr--5f2ab7c4-1d7e-5c1e-9a43-" + run + "01"
	domKey := "domain-name--0c5d2a4e-8b1f-5a33-b0c2-" + run + "02"
	mailKey := "email-addr--9e1f4b2a-7c3d-5e8f-a1b2-" + run + "03"
	asKey := "autonomous-system--4b6c8d0e-2f4a-5b6c-8d0e-" + run + "04"
	relKey := "relationship--1a2b3c4d-5e6f-5a7b-8c9d-" + run + "05"
	batch := "batch-" + run
	ip := events.Endpoint{Key: ipKey, Kind: "ipv4-addr", Value: "198.51.100.7"}
	dom := events.Endpoint{Key: domKey, Kind: "domain-name", Value: "updates.example.com"}
	as := events.Endpoint{Key: asKey, Kind: "autonomous-system", Value: "64500"}

	var out []downstreamEvent
	n := 0
	add := func(name, key, source, classification string, p events.Payload, payload map[string]any, schemaFile string) {
		n++
		recorded := at.Add(time.Duration(n) * time.Second)
		hlc := events.MakeHLC(recorded.UnixMilli(), uint16(n))
		vector := events.VersionVector{"dev": int64(hlc)}
		if n%2 == 0 { // a record also changed at another site
			vector["site-b"] = int64(events.MakeHLC(recorded.Add(-time.Hour).UnixMilli(), 7))
		}
		requestID := fmt.Sprintf("req-%s-%02d", run, n)
		ev := events.Event{
			ID:             events.DeterministicID(recorded, batch, name),
			Key:            key,
			OriginPeer:     "dev",
			Vector:         vector,
			HLC:            hlc,
			Actor:          events.Actor{Subject: "heimdall-cli", Issuer: "https://localhost:58443"},
			RequestID:      requestID,
			BatchID:        batch,
			RecordedAt:     recorded,
			Provenance:     events.Provenance{Source: source, Format: "ndjson", File: "dump-" + run + ".ndjson", Line: int64(n), ByteOffset: int64(n * 100)},
			Classification: classification,
			PolicyVersion:  "builtin-keep-declared/1",
			Payload:        p,
		}
		out = append(out, downstreamEvent{
			name: name, event: ev, payload: payload, payloadSchema: schemaFile,
			headers: map[string]string{
				"heimdall.event_type": p.EventType(),
				"heimdall.request_id": requestID,
				"traceparent":         fmt.Sprintf("00-%032x-%016x-01", n, n),
			},
		})
	}
	attrs := func(kv ...string) ([]events.Attribute, []any) {
		as := []events.Attribute{}
		js := []any{}
		for i := 0; i < len(kv); i += 2 {
			as = append(as, events.Attribute{Name: kv[i], Value: kv[i+1]})
			js = append(js, map[string]any{"name": kv[i], "value": kv[i+1]})
		}
		return as, js
	}
	endpoint := func(e events.Endpoint) map[string]any {
		return map[string]any{"key": e.Key, "kind": e.Kind, "value": e.Value}
	}

	a, aj := attrs("asn", "64500", "port", "443")
	add("entity-ip", ipKey, "sensor-1", "UNCLASSIFIED",
		events.EntityObserved{Kind: "ipv4-addr", Value: "198.51.100.7", ObservedAt: at, Attributes: a},
		map[string]any{"kind": "ipv4-addr", "value": "198.51.100.7", "observed_at": at, "attributes": aj}, "entity_observed.v1.avsc")
	add("entity-ip-spec-fingerprints", ipKey, "sensor-2", "UNCLASSIFIED",
		events.EntityObserved{Kind: "ipv4-addr", Value: "198.51.100.7", ObservedAt: at.Add(time.Hour), Attributes: a},
		map[string]any{"kind": "ipv4-addr", "value": "198.51.100.7", "observed_at": at.Add(time.Hour), "attributes": aj}, "entity_observed.v1.avsc")
	out[len(out)-1].specFingerprints = true
	a, aj = attrs()
	add("entity-mail", mailKey, "sensor-1", "SECRET",
		events.EntityObserved{Kind: "email-addr", Value: "ps:pk1:q8Yt1kq3tXkz0mWmX8cV3lF4y1D8d0sQ", ObservedAt: at.Add(-time.Minute), Attributes: a},
		map[string]any{"kind": "email-addr", "value": "ps:pk1:q8Yt1kq3tXkz0mWmX8cV3lF4y1D8d0sQ", "observed_at": at.Add(-time.Minute), "attributes": aj}, "entity_observed.v1.avsc")
	a, aj = attrs("proto", "udp", "qtype", "A")
	add("relation", relKey, "sensor-1", "UNCLASSIFIED",
		events.RelationObserved{RelationType: "RESOLVES_TO", Source: dom, Target: ip, ObservedAt: at, Attributes: a},
		map[string]any{"relation_type": "RESOLVES_TO", "source": endpoint(dom), "target": endpoint(ip), "observed_at": at, "attributes": aj}, "relation_observed.v1.avsc")
	add("reject-v2", batch, "sensor-1", "TOP SECRET",
		events.IngestRejected{Code: "invalid_json", Reason: "line is not a JSON object", Content: "enc:v1:dk1:AbCd-_09", ContentTruncated: true},
		map[string]any{"code": "invalid_json", "reason": "line is not a JSON object", "content": "enc:v1:dk1:AbCd-_09", "content_truncated": true}, "ingest_rejected.v2.avsc")
	// A reject written by an older Heimdall, with ingest_rejected.v1: the
	// consumers resolve it to v2, whose new fields show their defaults.
	v1 := encodeWithSchemaFile(t, "ingest_rejected.v1.avsc", map[string]any{"code": "line_too_long", "reason": "line longer than 1048576 bytes"})
	add("reject-v1", batch, "sensor-1", "TOP SECRET",
		events.Unknown{Type: events.TypeIngestRejected, Raw: v1},
		map[string]any{"code": "line_too_long", "reason": "line longer than 1048576 bytes", "content": "", "content_truncated": false}, "ingest_rejected.v1.avsc")
	out[len(out)-1].event.SchemaVersion = 1
	add("classify", ipKey, "api", "SECRET",
		events.ClassificationChanged{RecordType: "entity", Level: "SECRET", Reason: "seen in a case"},
		map[string]any{"record_type": "entity", "level": "SECRET", "reason": "seen in a case"}, "classification_changed.v1.avsc")
	add("retract", "batch:"+batch, "api", "UNCLASSIFIED",
		events.RetractionRequested{Scope: "batch", ID: batch, Reason: "wrong sensor clock", Clearance: "CONFIDENTIAL"},
		map[string]any{"scope": "batch", "id": batch, "reason": "wrong sensor clock", "clearance": "CONFIDENTIAL"}, "retraction_requested.v2.avsc")
	add("audit", "heimdall-cli", "api", "UNCLASSIFIED",
		events.AuditRecorded{Action: "ingest", Outcome: "done", Records: []string{batch, ipKey},
			Details: []events.AuditDetail{{Name: "rows", Value: "12"}, {Name: "accepted", Value: "11"}}},
		map[string]any{"action": "ingest", "outcome": "done", "records": []any{batch, ipKey},
			"details": []any{map[string]any{"name": "rows", "value": "12"}, map[string]any{"name": "accepted", "value": "11"}}}, "audit_recorded.v1.avsc")
	add("decrypt", "heimdall-cli", "api", "UNCLASSIFIED",
		events.DecryptionAudited{Purpose: "incident 42", Items: []events.DecryptionItem{
			{RecordKey: mailKey, Field: "value", DataKeyID: "dk1", Outcome: "decrypted"},
			{RecordKey: batch + "/7", Field: "raw", DataKeyID: "", Outcome: "denied"},
		}},
		map[string]any{"purpose": "incident 42", "items": []any{
			map[string]any{"record_key": mailKey, "field": "value", "data_key_id": "dk1", "outcome": "decrypted"},
			map[string]any{"record_key": batch + "/7", "field": "raw", "data_key_id": "", "outcome": "denied"},
		}}, "decryption_audited.v1.avsc")
	// Floats that test the 32-bit spelling: a third, tiny, huge, negative,
	// whole numbers.
	vector := []float32{0.1, -2.5, 1.0 / 3, 1e-7, math.MaxFloat32, 0, 1, math.SmallestNonzeroFloat32}
	vj := make([]any, len(vector))
	for i, f := range vector {
		vj[i] = f
	}
	a, aj = attrs("as_org", "Example Net", "asn", "64500", "country", "NL")
	ra, raj := attrs("source", "asn-db")
	add("enrichment-ok", ipKey, "enrichment/geo", "UNCLASSIFIED",
		events.EnrichmentRecorded{
			Provider: "geo", ProviderType: "geoip", Subject: ip, JobID: "job-" + run,
			RequestedAt: at, CompletedAt: at.Add(1500 * time.Millisecond), TTLSeconds: 86400, Outcome: events.EnrichmentOK,
			Attempts: 1, DataVersion: "GeoLite2-ASN@2026-03-10", Attributes: a,
			Relations: []events.EnrichmentRelation{
				{RelationType: "BELONGS_TO", Key: relKey + "-as", Source: ip, Target: as, Attributes: ra},
				{RelationType: "PTR", Key: relKey + "-ptr", Source: ip, Target: dom, Attributes: []events.Attribute{}},
			},
			Vector: vector,
		},
		map[string]any{
			"provider": "geo", "provider_type": "geoip", "subject": endpoint(ip), "job_id": "job-" + run,
			"requested_at": at, "completed_at": at.Add(1500 * time.Millisecond), "ttl_seconds": int64(86400), "outcome": "ok",
			"error_class": "", "error_reason": "", "attempts": int64(1), "data_version": "GeoLite2-ASN@2026-03-10", "attributes": aj,
			"relations": []any{
				map[string]any{"relation_type": "BELONGS_TO", "key": relKey + "-as", "source": endpoint(ip), "target": endpoint(as), "attributes": raj},
				map[string]any{"relation_type": "PTR", "key": relKey + "-ptr", "source": endpoint(ip), "target": endpoint(dom), "attributes": []any{}},
			},
			"vector": vj,
		}, "enrichment_recorded.v1.avsc")
	add("enrichment-failed", domKey, "enrichment/rep", "CONFIDENTIAL",
		events.EnrichmentRecorded{
			Provider: "rep", ProviderType: "http", Subject: dom, JobID: "job-" + run + "-2",
			RequestedAt: at, CompletedAt: at.Add(time.Minute), TTLSeconds: 3600, Outcome: events.EnrichmentFailed,
			ErrorClass: "timeout", ErrorReason: "the provider did not answer in time", Attempts: 4,
			Attributes: []events.Attribute{}, Relations: []events.EnrichmentRelation{}, Vector: []float32{},
		},
		map[string]any{
			"provider": "rep", "provider_type": "http", "subject": endpoint(dom), "job_id": "job-" + run + "-2",
			"requested_at": at, "completed_at": at.Add(time.Minute), "ttl_seconds": int64(3600), "outcome": "failed",
			"error_class": "timeout", "error_reason": "the provider did not answer in time", "attempts": int64(4), "data_version": "",
			"attributes": []any{}, "relations": []any{}, "vector": []any{},
		}, "enrichment_recorded.v1.avsc")
	add("enrichment-request", ipKey, "api", "UNCLASSIFIED",
		events.EnrichmentRequested{Subject: ip, Providers: []string{"geo", "rep"}, Reason: "stale"},
		map[string]any{"subject": endpoint(ip), "providers": []any{"geo", "rep"}, "reason": "stale"}, "enrichment_requested.v1.avsc")
	add("enrichment-request-all", domKey, "api", "UNCLASSIFIED",
		events.EnrichmentRequested{Subject: dom, Providers: []string{}, Reason: ""},
		map[string]any{"subject": endpoint(dom), "providers": []any{}, "reason": ""}, "enrichment_requested.v1.avsc")
	// A newer Heimdall's event type, with a payload schema nobody has.
	future := append(append([]byte{0xC3, 0x01}, []byte("\x01\x02\x03\x04\x05\x06\x07\x08")...), 0x02, 'x')
	add("unknown-type", ipKey, "sensor-1", "UNCLASSIFIED", events.Unknown{Type: "threat.forecasted", Raw: future}, nil, "")
	out[len(out)-1].event.SchemaVersion = 1
	out[len(out)-1].unknown = true
	return out
}

// encodeWithSchemaFile writes v as a single-object encoding with one
// released schema file (not necessarily the newest).
func encodeWithSchemaFile(t *testing.T, file string, v any) []byte {
	t.Helper()
	list, err := events.LoadSchemas(schemas.FS)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list {
		if s.File != file {
			continue
		}
		h, err := soe.BuildHeader(s.Avro)
		if err != nil {
			t.Fatal(err)
		}
		body, err := avro.Marshal(s.Avro, v)
		if err != nil {
			t.Fatal(err)
		}
		return append(h, body...)
	}
	t.Fatalf("no schema file %s", file)
	return nil
}

// expectedLine is the output line a consumer must print for ev, written as
// rec.
func expectedLine(ev downstreamEvent, rec *kgo.Record) map[string]any {
	e := ev.event
	vector := []any{}
	for _, en := range e.Vector.Entries() {
		vector = append(vector, map[string]any{"peer": en.Peer, "counter": en.Counter})
	}
	headers := map[string]any{}
	for k, v := range ev.headers {
		headers[k] = v
	}
	return map[string]any{
		"topic":           rec.Topic,
		"partition":       int64(rec.Partition),
		"offset":          rec.Offset,
		"key":             e.Key,
		"timestamp":       rec.Timestamp.Truncate(time.Millisecond),
		"headers":         headers,
		"envelope_schema": "envelope.v1.avsc",
		"payload_schema":  ev.payloadSchema,
		"event": map[string]any{
			"event_id":       e.ID.String(),
			"event_type":     e.Payload.EventType(),
			"schema_version": schemaFileVersion(ev.payloadSchema),
			"record_key":     e.Key,
			"origin_peer":    e.OriginPeer,
			"version_vector": vector,
			"hlc":            int64(e.HLC),
			"actor":          map[string]any{"subject": e.Actor.Subject, "issuer": e.Actor.Issuer},
			"request_id":     e.RequestID,
			"batch_id":       e.BatchID,
			"recorded_at":    e.RecordedAt,
			"provenance": map[string]any{
				"source": e.Provenance.Source, "format": e.Provenance.Format, "file": e.Provenance.File,
				"line": e.Provenance.Line, "byte_offset": e.Provenance.ByteOffset,
			},
			"classification": e.Classification,
			"policy_version": e.PolicyVersion,
			"payload":        ev.payload,
		},
	}
}

// schemaFileVersion is the N of <record>.v<N>.avsc.
func schemaFileVersion(file string) int64 {
	m := regexp.MustCompile(`\.v([0-9]+)\.avsc$`).FindStringSubmatch(file)
	if m == nil {
		return -1
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n
}

// parseConsumerOutput reads JSON lines (numbers kept exact) by event id,
// and the event ids in output order.
func parseConsumerOutput(t *testing.T, out []byte) (map[string]map[string]any, []string) {
	t.Helper()
	got := map[string]map[string]any{}
	var order []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.UseNumber()
		var line map[string]any
		if err := dec.Decode(&line); err != nil {
			t.Fatalf("output line is not JSON: %v\n%s", err, sc.Text())
		}
		ev, _ := line["event"].(map[string]any)
		id, _ := ev["event_id"].(string)
		if id == "" {
			t.Fatalf("output line without event.event_id:\n%s", sc.Text())
		}
		if _, dup := got[id]; dup {
			t.Fatalf("event %s printed twice", id)
		}
		got[id] = line
		order = append(order, id)
	}
	return got, order
}

// checkKeyOrder: events of one key come out in the order they were written.
func checkKeyOrder(t *testing.T, evs []downstreamEvent, order []string) {
	t.Helper()
	pos := map[string]int{}
	for i, id := range order {
		pos[id] = i
	}
	last := map[string]int{}
	for _, ev := range evs {
		p, ok := pos[ev.event.ID.String()]
		if !ok {
			continue
		}
		if prev, seen := last[ev.event.Key]; seen && p < prev {
			t.Errorf("key %s: event %s (%s) printed before an event written earlier", ev.event.Key, ev.event.ID, ev.name)
		}
		last[ev.event.Key] = p
	}
}

// compareJSON checks got (decoded with UseNumber) against want: strings,
// booleans, integers exactly, float32 values as 32-bit floats, times as
// RFC 3339 UTC strings with microseconds, maps with exactly the same keys.
// With a json.Number in want (comparing two outputs), numbers compare by
// value.
func compareJSON(path string, want, got any) error {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: got %T %v, want an object", path, got, got)
		}
		var errs []error
		for _, k := range sortedKeys(w) {
			gv, ok := g[k]
			if !ok {
				errs = append(errs, fmt.Errorf("%s.%s: missing", path, k))
				continue
			}
			errs = append(errs, compareJSON(path+"."+k, w[k], gv))
		}
		for _, k := range sortedKeys(g) {
			if _, ok := w[k]; !ok {
				errs = append(errs, fmt.Errorf("%s.%s: unexpected field (%v)", path, k, g[k]))
			}
		}
		return errors.Join(errs...)
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Errorf("%s: got %v, want %d elements %v", path, got, len(w), w)
		}
		var errs []error
		for i := range w {
			errs = append(errs, compareJSON(fmt.Sprintf("%s[%d]", path, i), w[i], g[i]))
		}
		return errors.Join(errs...)
	case time.Time:
		if s := w.UTC().Format("2006-01-02T15:04:05.000000Z"); got != s {
			return fmt.Errorf("%s: got %v, want %s", path, got, s)
		}
		return nil
	case float32:
		n, ok := got.(json.Number)
		if !ok {
			return fmt.Errorf("%s: got %T %v, want the number %v", path, got, got, w)
		}
		f, err := strconv.ParseFloat(n.String(), 32)
		if err != nil || float32(f) != w {
			return fmt.Errorf("%s: got %s, want the 32-bit float %v", path, n, w)
		}
		return nil
	case int64:
		n, ok := got.(json.Number)
		if !ok || n.String() != strconv.FormatInt(w, 10) {
			return fmt.Errorf("%s: got %v, want the integer %d", path, got, w)
		}
		return nil
	case json.Number:
		n, ok := got.(json.Number)
		if !ok {
			return fmt.Errorf("%s: got %T %v, want the number %s", path, got, got, w)
		}
		if n == w {
			return nil
		}
		a, errA := strconv.ParseFloat(w.String(), 64)
		b, errB := strconv.ParseFloat(n.String(), 64)
		_, intA := strconv.ParseInt(w.String(), 10, 64)
		_, intB := strconv.ParseInt(n.String(), 10, 64)
		if errA != nil || errB != nil || a != b || (intA == nil && intB == nil) {
			return fmt.Errorf("%s: got %s, want %s", path, n, w)
		}
		return nil
	case string, bool, nil:
		if got != want {
			return fmt.Errorf("%s: got %#v, want %#v", path, got, want)
		}
		return nil
	}
	return fmt.Errorf("%s: cannot compare a %T", path, want)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// pythonConsumerEnv returns the Python of the example consumer's virtualenv,
// kept outside the checkout in ${HEIMDALL_CACHE_DIR:-~/.cache/heimdall}/
// py-consumer-venv: created on first use, its packages installed from the
// pinned requirements.txt only when they are missing or the pins changed.
func pythonConsumerEnv(t *testing.T, root string) string {
	t.Helper()
	python3, err := exec.LookPath("python3")
	if err != nil {
		t.Fatalf("python3 is not installed, so the Python example consumer (deploy/examples/consumer-python) cannot be tested: "+
			"install it (apt-get install python3 python3-venv): %v", err)
	}
	cache := os.Getenv("HEIMDALL_CACHE_DIR")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			t.Fatal(err)
		}
		cache = filepath.Join(home, ".cache", "heimdall")
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		t.Fatal(err)
	}
	venv := filepath.Join(cache, "py-consumer-venv")
	// One test process at a time sets the virtualenv up.
	lock, err := os.OpenFile(venv+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck

	reqFile := filepath.Join(root, "deploy/examples/consumer-python/requirements.txt")
	req, err := os.ReadFile(reqFile)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(req)
	stampFile := filepath.Join(venv, "heimdall-requirements.sha256")
	python := filepath.Join(venv, "bin", "python")
	run := func(name string, args ...string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return nil
	}
	if run(python, "-c", "import sys") != nil {
		// Missing or broken (a moved Python, an interrupted creation).
		if err := os.RemoveAll(venv); err != nil {
			t.Fatal(err)
		}
		if err := run(python3, "-m", "venv", venv); err != nil {
			t.Fatalf("creating the example consumer's virtualenv (python3 -m venv needs python3-venv): %v", err)
		}
	}
	stamp, _ := os.ReadFile(stampFile)
	if string(stamp) != hex.EncodeToString(sum[:]) || run(python, "-c", "import fastavro, kafka, zstandard") != nil {
		if err := run(python, "-m", "pip", "install", "--disable-pip-version-check", "--quiet", "-r", reqFile); err != nil {
			t.Fatalf("installing the example consumer's requirements: %v", err)
		}
		if err := os.WriteFile(stampFile, []byte(hex.EncodeToString(sum[:])), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return python
}
