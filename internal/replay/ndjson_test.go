package replay

import (
	"bytes"
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/heimdallhub/heimdall/events"
)

var (
	sampleAt   = time.Date(2026, 11, 27, 12, 0, 0, 123456000, time.UTC)
	sampleAt2  = time.Date(2026, 11, 27, 12, 0, 5, 654321000, time.UTC)
	sampleAttr = []events.Attribute{{Name: "rrtype", Value: "A"}, {Name: "uri", Value: "/a?b=1&c=<d>"}}
)

// payloadSamples has one payload of every event type, every field set,
// with the JSON its NDJSON line must carry, keyed by schema record name.
var payloadSamples = map[string]struct {
	payload events.Payload
	want    string
}{
	"heimdall.events.EntityObserved": {
		events.EntityObserved{Kind: "domain-name", Value: "updates.example.com", ObservedAt: sampleAt, Attributes: sampleAttr},
		`{"kind":"domain-name","value":"updates.example.com","observed_at":"2026-11-27T12:00:00.123456Z",
		  "attributes":[{"name":"rrtype","value":"A"},{"name":"uri","value":"/a?b=1&c=<d>"}]}`,
	},
	"heimdall.events.RelationObserved": {
		events.RelationObserved{
			RelationType: "RESOLVES_TO",
			Source:       events.Endpoint{Key: "domain-name--a", Kind: "domain-name", Value: "example.com"},
			Target:       events.Endpoint{Key: "ipv4-addr--b", Kind: "ipv4-addr", Value: "192.0.2.1"},
			ObservedAt:   sampleAt, Attributes: sampleAttr[:1],
		},
		`{"relation_type":"RESOLVES_TO","source":{"key":"domain-name--a","kind":"domain-name","value":"example.com"},
		  "target":{"key":"ipv4-addr--b","kind":"ipv4-addr","value":"192.0.2.1"},"observed_at":"2026-11-27T12:00:00.123456Z",
		  "attributes":[{"name":"rrtype","value":"A"}]}`,
	},
	"heimdall.events.IngestRejected": {
		events.IngestRejected{Code: "invalid_json", Reason: "line is not a JSON object", Content: "enc:v1:dk-1:AAAA", ContentTruncated: true},
		`{"code":"invalid_json","reason":"line is not a JSON object","content":"enc:v1:dk-1:AAAA","content_truncated":true}`,
	},
	"heimdall.events.ClassificationChanged": {
		events.ClassificationChanged{RecordType: "entity", Level: "SECRET", Reason: "case 42"},
		`{"record_type":"entity","level":"SECRET","reason":"case 42"}`,
	},
	"heimdall.events.RetractionRequested": {
		events.RetractionRequested{Scope: "batch", ID: "batch-7", Reason: "wrong file", Clearance: "CONFIDENTIAL"},
		`{"scope":"batch","id":"batch-7","reason":"wrong file","clearance":"CONFIDENTIAL"}`,
	},
	"heimdall.events.AuditRecorded": {
		events.AuditRecorded{Action: "ingest", Outcome: "done", Records: []string{"batch-1", "batch-2"}, Details: []events.AuditDetail{{Name: "rows", Value: "12"}}},
		`{"action":"ingest","outcome":"done","records":["batch-1","batch-2"],"details":[{"name":"rows","value":"12"}]}`,
	},
	"heimdall.events.DecryptionAudited": {
		events.DecryptionAudited{Purpose: "case 42", Items: []events.DecryptionItem{{RecordKey: "email-addr--x", Field: "value", DataKeyID: "dk-1", Outcome: "decrypted"}}},
		`{"purpose":"case 42","items":[{"record_key":"email-addr--x","field":"value","data_key_id":"dk-1","outcome":"decrypted"}]}`,
	},
	"heimdall.events.EnrichmentRecorded": {
		events.EnrichmentRecorded{
			Provider: "geo", ProviderType: "geoip",
			Subject: events.Endpoint{Key: "ipv4-addr--b", Kind: "ipv4-addr", Value: "192.0.2.1"},
			JobID:   "job-1", RequestedAt: sampleAt, CompletedAt: sampleAt2, TTLSeconds: 86400,
			Outcome: events.EnrichmentFailed, ErrorClass: "timeout", ErrorReason: "no answer in time", Attempts: 3,
			DataVersion: "GeoLite2-City 2026-11-20", Attributes: []events.Attribute{{Name: "country", Value: "NL"}},
			Relations: []events.EnrichmentRelation{{
				RelationType: "BELONGS_TO", Key: "relationship--r",
				Source:     events.Endpoint{Key: "ipv4-addr--b", Kind: "ipv4-addr", Value: "192.0.2.1"},
				Target:     events.Endpoint{Key: "autonomous-system--as", Kind: "autonomous-system", Value: "64500"},
				Attributes: []events.Attribute{{Name: "network", Value: "192.0.2.0/24"}},
			}},
			Vector: []float32{0.25, -1.5, 3.0000002},
		},
		`{"provider":"geo","provider_type":"geoip","subject":{"key":"ipv4-addr--b","kind":"ipv4-addr","value":"192.0.2.1"},
		  "job_id":"job-1","requested_at":"2026-11-27T12:00:00.123456Z","completed_at":"2026-11-27T12:00:05.654321Z",
		  "ttl_seconds":86400,"outcome":"failed","error_class":"timeout","error_reason":"no answer in time","attempts":3,
		  "data_version":"GeoLite2-City 2026-11-20","attributes":[{"name":"country","value":"NL"}],
		  "relations":[{"relation_type":"BELONGS_TO","key":"relationship--r",
		    "source":{"key":"ipv4-addr--b","kind":"ipv4-addr","value":"192.0.2.1"},
		    "target":{"key":"autonomous-system--as","kind":"autonomous-system","value":"64500"},
		    "attributes":[{"name":"network","value":"192.0.2.0/24"}]}],
		  "vector":[0.25,-1.5,3.0000002]}`,
	},
	"heimdall.events.EnrichmentRequested": {
		events.EnrichmentRequested{Subject: events.Endpoint{Key: "domain-name--a", Kind: "domain-name", Value: "example.com"}, Providers: []string{"dns", "rdap"}, Reason: "stale"},
		`{"subject":{"key":"domain-name--a","kind":"domain-name","value":"example.com"},"providers":["dns","rdap"],"reason":"stale"}`,
	},
}

func sampleEnvelope(p events.Payload) events.Event {
	return events.Event{
		ID:             events.DeterministicID(sampleAt, "batch-1", "1", p.EventType()),
		Type:           p.EventType(),
		Key:            "domain-name--a",
		OriginPeer:     "site-a",
		Vector:         events.VersionVector{"site-a": 7, "site-b": 3},
		HLC:            events.MakeHLC(sampleAt.UnixMilli(), 2),
		Actor:          events.Actor{Subject: "heimdall-cli", Issuer: "https://localhost:58443"},
		RequestID:      "req-1",
		BatchID:        "batch-1",
		RecordedAt:     sampleAt,
		Provenance:     events.Provenance{Source: "sensor-1", Format: "ndjson", File: "dns.ndjson", Line: 42, ByteOffset: 4096},
		Classification: "CONFIDENTIAL",
		PolicyVersion:  "2026-11-27.1",
		Payload:        p,
	}
}

func decodeJSON(t *testing.T, b []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return v
}

// TestNDJSONEveryPayloadType: every event type the codec knows encodes to
// one JSON line holding every envelope field, the position, and every
// payload field under its Avro name with its exact value, after an Avro
// round trip as the log holds it.
func TestNDJSONEveryPayloadType(t *testing.T) {
	codec, err := events.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	latest := map[string]events.Schema{}
	for _, s := range codec.Schemas() {
		if s.Record == "heimdall.events.Envelope" {
			continue
		}
		if cur, ok := latest[s.Record]; !ok || s.Version > cur.Version {
			latest[s.Record] = s
		}
	}
	for record := range latest {
		if _, ok := payloadSamples[record]; !ok {
			t.Errorf("no NDJSON sample for payload record %s: add one to payloadSamples", record)
		}
	}
	pos := Position{Topic: "heimdall.events", Partition: 4, Offset: 1234567, Timestamp: time.Date(2026, 11, 27, 13, 0, 0, 5000000, time.FixedZone("CET", 3600))}
	for record, sample := range payloadSamples {
		t.Run(record, func(t *testing.T) {
			b, err := codec.Encode(sampleEnvelope(sample.payload))
			if err != nil {
				t.Fatal(err)
			}
			e, err := codec.Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			line, err := AppendNDJSON([]byte("prefix\n"), pos, e)
			if err != nil {
				t.Fatal(err)
			}
			line, ok := bytes.CutPrefix(line, []byte("prefix\n"))
			if !ok || bytes.Count(line, []byte("\n")) != 1 || line[len(line)-1] != '\n' {
				t.Fatalf("not one newline-terminated line after the prefix: %q", line)
			}
			if !bytes.Contains(line, []byte(`"/a?b=1&c=<d>"`)) && record == "heimdall.events.EntityObserved" {
				t.Errorf("HTML characters escaped: %s", line)
			}
			got := decodeJSON(t, line).(map[string]any)
			want := decodeJSON(t, []byte(`{
				"event_id":"`+e.ID.String()+`","event_type":"`+sample.payload.EventType()+`",
				"schema_version":`+jsonInt(latest[record].Version)+`,
				"record_key":"domain-name--a","origin_peer":"site-a","version_vector":{"site-a":7,"site-b":3},
				"hlc":`+jsonInt(int(events.MakeHLC(sampleAt.UnixMilli(), 2)))+`,
				"actor":{"subject":"heimdall-cli","issuer":"https://localhost:58443"},
				"request_id":"req-1","batch_id":"batch-1","recorded_at":"2026-11-27T12:00:00.123456Z",
				"provenance":{"source":"sensor-1","format":"ndjson","file":"dns.ndjson","line":42,"byte_offset":4096},
				"classification":"CONFIDENTIAL","policy_version":"2026-11-27.1",
				"payload":`+sample.want+`,
				"topic":"heimdall.events","partition":4,"offset":1234567,"timestamp":"2026-11-27T12:00:00.005Z"}`)).(map[string]any)
			for _, k := range sortedKeys(want) {
				if !reflect.DeepEqual(got[k], want[k]) {
					t.Errorf("%s = %#v, want %#v", k, got[k], want[k])
				}
			}
			for k := range got {
				if _, ok := want[k]; !ok {
					t.Errorf("unexpected field %s = %#v", k, got[k])
				}
			}
			// The payload's keys are exactly the Avro schema's field names, at
			// every level.
			checkShape(t, latest[record].Avro, got["payload"], "payload")
		})
	}
}

func jsonInt(n int) string { b, _ := json.Marshal(n); return string(b) }

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func checkShape(t *testing.T, s avro.Schema, v any, path string) {
	t.Helper()
	switch s := s.(type) {
	case *avro.RefSchema:
		checkShape(t, s.Schema(), v, path)
	case *avro.RecordSchema:
		obj, ok := v.(map[string]any)
		if !ok {
			t.Errorf("%s: %T, want an object", path, v)
			return
		}
		names := map[string]bool{}
		for _, f := range s.Fields() {
			names[f.Name()] = true
			fv, ok := obj[f.Name()]
			if !ok {
				t.Errorf("%s: field %s missing", path, f.Name())
				continue
			}
			checkShape(t, f.Type(), fv, path+"."+f.Name())
		}
		for k := range obj {
			if !names[k] {
				t.Errorf("%s: field %s is not in the schema", path, k)
			}
		}
	case *avro.ArraySchema:
		arr, ok := v.([]any)
		if !ok {
			t.Errorf("%s: %T, want an array", path, v)
			return
		}
		if len(arr) == 0 {
			t.Errorf("%s: the sample leaves the array empty; fill it so its items are checked", path)
		}
		for _, x := range arr {
			checkShape(t, s.Items(), x, path+"[]")
		}
	}
}

// TestNDJSONEmptyListsAndUnknown: empty and nil lists are [] (never null);
// an event of a type this build does not know keeps its raw payload.
func TestNDJSONEmptyListsAndUnknown(t *testing.T) {
	e := sampleEnvelope(events.EntityObserved{Kind: "ipv4-addr", Value: "192.0.2.1", ObservedAt: sampleAt})
	e.Vector = nil
	line, err := AppendNDJSON(nil, Position{}, e)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(line, []byte(`"attributes":[]`)) || !bytes.Contains(line, []byte(`"version_vector":{}`)) {
		t.Errorf("empty lists not []/{}: %s", line)
	}
	u := sampleEnvelope(events.Unknown{Type: "future.event", Raw: []byte{0xc3, 0x01, 0xff}})
	line, err = AppendNDJSON(nil, Position{}, u)
	if err != nil {
		t.Fatal(err)
	}
	var l Line
	if err := json.Unmarshal(line, &l); err != nil {
		t.Fatal(err)
	}
	if l.EventType != "future.event" || string(l.Payload) != "null" || !bytes.Equal(l.PayloadRaw, []byte{0xc3, 0x01, 0xff}) {
		t.Errorf("unknown event: %s", line)
	}
	if strings.Contains(string(line), `"payload_raw"`) == false {
		t.Errorf("no payload_raw: %s", line)
	}
}
