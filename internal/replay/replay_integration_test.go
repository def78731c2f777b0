package replay

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/internal/config/devstack"
	"github.com/heimdallhub/heimdall/internal/kafka"
)

// The tests in this file run against the development stack's Kafka (TLS
// 1.3): they run by default and fail when the stack is missing; only -short
// skips them.

const (
	fixtureRecords    = 30
	fixtureParts      = 3
	fixtureKeys       = 9
	fixtureTSOffset   = 150 * time.Second // record timestamp minus recorded_at
	fixtureRecSpacing = time.Minute
)

var fixtureBase = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

func stackKafka(t *testing.T) kafka.Config {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test against the development stack's Kafka (skipped with -short)")
	}
	return devstack.Env(t).Kafka(t, devstack.KafkaAdmin)
}

func uniqueTopic(name string) string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return "heimdall.replay-test." + hex.EncodeToString(b) + "." + name
}

func createTopic(t *testing.T, cfg kafka.Config, name string, partitions int32) {
	t.Helper()
	cl, err := kafka.NewClient(cfg, freshMetadata)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := kafka.EnsureTopics(context.Background(), cl, kafka.TopicSpec{Name: name, Partitions: partitions, ReplicationFactor: 1, Configs: kafka.EventLogConfigs(1)}); err != nil {
		t.Fatal(err)
	}
}

// fixtureRecord is one record the fixture produced, with what the test
// knows of it independently of the code under test.
type fixtureRecord struct {
	i          int // -1: the undecodable record
	partition  int32
	offset     int64
	key        string
	typ        string
	source     string
	batch      string
	recordedAt time.Time
	ts         time.Time
	value      []byte
	headers    []kgo.RecordHeader
	event      events.Event
}

type fixture struct {
	topic   string
	records []fixtureRecord // in produce order
}

func fixturePayload(i int, key string, at time.Time) events.Payload {
	switch i % 5 {
	case 0, 3:
		return events.EntityObserved{Kind: "ipv4-addr", Value: fmt.Sprintf("192.0.2.%d", i), ObservedAt: at, Attributes: []events.Attribute{{Name: "n", Value: fmt.Sprint(i)}}}
	case 1:
		return events.RelationObserved{RelationType: "CONNECTED_TO",
			Source: events.Endpoint{Key: key, Kind: "ipv4-addr", Value: "192.0.2.1"}, Target: events.Endpoint{Key: "ipv4-addr--t", Kind: "ipv4-addr", Value: "198.51.100.1"},
			ObservedAt: at, Attributes: []events.Attribute{}}
	case 2:
		return events.IngestRejected{Code: "invalid_json", Reason: "line is not a JSON object", Content: "enc:v1:dk-1:QUJD"}
	}
	return events.ClassificationChanged{RecordType: "entity", Level: "SECRET", Reason: "test"}
}

// newFixture produces fixtureRecords events to a fresh topic of
// fixtureParts partitions (key k always in partition k%fixtureParts),
// varying type, source, batch, recorded_at and timestamp, plus one record
// that is not an event.
func newFixture(t *testing.T, cfg kafka.Config) *fixture {
	t.Helper()
	f := &fixture{topic: uniqueTopic("source")}
	createTopic(t, cfg, f.topic, fixtureParts)
	codec, err := events.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kafka.NewClient(cfg, kgo.RecordPartitioner(kgo.ManualPartitioner()), freshMetadata)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for i := 0; i < fixtureRecords; i++ {
		k := i % fixtureKeys
		key := fmt.Sprintf("ipv4-addr--%02d", k)
		at := fixtureBase.Add(time.Duration(i) * fixtureRecSpacing)
		p := fixturePayload(i, key, at)
		e := events.Event{
			ID: events.DeterministicID(at, "fixture", fmt.Sprint(i)), Type: p.EventType(), Key: key, OriginPeer: "peer-a",
			Vector: events.VersionVector{"peer-a": int64(i + 1)}, HLC: events.MakeHLC(at.UnixMilli(), uint16(i)),
			Actor: events.Actor{Subject: "tester", Issuer: "https://issuer.test"}, RequestID: fmt.Sprintf("req-%d", i/10),
			BatchID: fmt.Sprintf("batch-%d", i/10), RecordedAt: at,
			Provenance:     events.Provenance{Source: map[bool]string{true: "sensor-a", false: "sensor-b"}[i < 15], Format: "ndjson", File: "f.ndjson", Line: int64(i + 1), ByteOffset: int64(100 * i)},
			Classification: "UNCLASSIFIED", PolicyVersion: "policy-1", Payload: p,
		}
		value, err := codec.Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		decoded, err := codec.Decode(value)
		if err != nil {
			t.Fatal(err)
		}
		headers := []kgo.RecordHeader{
			{Key: "heimdall.event_type", Value: []byte(e.Type)},
			{Key: "traceparent", Value: []byte(fmt.Sprintf("00-%032x-%016x-01", i+1, i+1))},
			{Key: "heimdall.request_id", Value: []byte(e.RequestID)},
		}
		if i%4 == 0 {
			// A repeated header name, after the others: order and repeats
			// must survive.
			headers = append(headers, kgo.RecordHeader{Key: "x-repeat", Value: []byte("2")}, kgo.RecordHeader{Key: "x-repeat", Value: []byte("1")})
		}
		ts := at.Add(fixtureTSOffset)
		f.records = append(f.records, fixtureRecord{
			i: i, partition: int32(k % fixtureParts), key: key, typ: e.Type, source: e.Provenance.Source, batch: e.BatchID,
			recordedAt: at, ts: ts, value: value, headers: headers, event: decoded,
		})
		recs = append(recs, &kgo.Record{Topic: f.topic, Partition: int32(k % fixtureParts), Key: []byte(key), Value: value, Headers: headers, Timestamp: ts})
		if i == 16 {
			// Not an event: skipped and counted, never copied.
			ts := fixtureBase.Add(16*fixtureRecSpacing + fixtureTSOffset + time.Second)
			f.records = append(f.records, fixtureRecord{i: -1, partition: 0, key: "garbage", ts: ts, value: []byte("not avro")})
			recs = append(recs, &kgo.Record{Topic: f.topic, Partition: 0, Key: []byte("garbage"), Value: []byte("not avro"), Timestamp: ts})
		}
	}
	res := cl.ProduceSync(context.Background(), recs...)
	if err := res.FirstErr(); err != nil {
		t.Fatalf("producing the fixture: %v", err)
	}
	for i, r := range recs {
		// ProduceSync sets each record's offset; its results come in
		// acknowledgement order.
		f.records[i].offset = r.Offset
	}
	return f
}

// selected returns the fixture's events (never the undecodable record)
// for which keep holds.
func (f *fixture) selected(keep func(fixtureRecord) bool) []fixtureRecord {
	var out []fixtureRecord
	for _, r := range f.records {
		if r.i >= 0 && keep(r) {
			out = append(out, r)
		}
	}
	return out
}

// readAll reads every record of topic.
func readAll(t *testing.T, cfg kafka.Config, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := kafka.NewClient(cfg, freshMetadata)
	if err != nil {
		t.Fatal(err)
	}
	ends, err := kafka.EndOffsets(ctx, cl, topic)
	cl.Close()
	if err != nil {
		t.Fatal(err)
	}
	offsets := map[int32]kgo.Offset{}
	pending := map[int32]bool{}
	for p, end := range ends {
		offsets[p] = kgo.NewOffset().AtStart()
		if end > 0 {
			pending[p] = true
		}
	}
	if len(pending) == 0 {
		return nil
	}
	cl, err = kafka.NewClient(cfg, freshMetadata, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	for len(pending) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: %v", topic, ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) {
			out = append(out, r)
			if r.Offset+1 >= ends[r.Partition] {
				delete(pending, r.Partition)
			}
		})
	}
	return out
}

// assertCopied checks that dest holds exactly want, partition by
// partition in order, each record with the source's key, value bytes,
// headers (in order) and timestamp.
func assertCopied(t *testing.T, dest []*kgo.Record, want []fixtureRecord) {
	t.Helper()
	byPart := map[int32][]*kgo.Record{}
	for _, r := range dest {
		byPart[r.Partition] = append(byPart[r.Partition], r)
	}
	wantByPart := map[int32][]fixtureRecord{}
	for _, r := range want {
		wantByPart[r.partition] = append(wantByPart[r.partition], r)
	}
	if len(dest) != len(want) {
		t.Errorf("destination holds %d records, want %d", len(dest), len(want))
	}
	for p := int32(0); p < fixtureParts; p++ {
		got, exp := byPart[p], wantByPart[p]
		if len(got) != len(exp) {
			t.Errorf("partition %d: %d records, want %d (%v)", p, len(got), len(exp), indexes(exp))
			continue
		}
		for j := range got {
			g, w := got[j], exp[j]
			if string(g.Key) != w.key || !bytes.Equal(g.Value, w.value) || !g.Timestamp.Equal(w.ts) || !headersEqual(g.Headers, w.headers) {
				t.Errorf("partition %d record %d (fixture %d): key %q value %d bytes ts %s headers %v; want key %q value %d bytes ts %s headers %v",
					p, j, w.i, g.Key, len(g.Value), g.Timestamp.UTC(), g.Headers, w.key, len(w.value), w.ts, w.headers)
			}
		}
	}
}

func headersEqual(a, b []kgo.RecordHeader) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key != b[i].Key || !bytes.Equal(a[i].Value, b[i].Value) {
			return false
		}
	}
	return true
}

func indexes(rs []fixtureRecord) []int {
	out := make([]int, len(rs))
	for i, r := range rs {
		out[i] = r.i
	}
	return out
}

func offsetOf(f *fixture, i int) fixtureRecord {
	for _, r := range f.records {
		if r.i == i {
			return r
		}
	}
	panic("no fixture record")
}

// TestReplayToTopicBySelector replays the fixture into a fresh topic by
// each selector alone and combined, and checks the destination holds
// exactly the selected records, unchanged, in their partitions and order.
func TestReplayToTopicBySelector(t *testing.T) {
	cfg := stackKafka(t)
	f := newFixture(t, cfg)
	tsAt := func(i int) time.Time { return fixtureBase.Add(time.Duration(i)*fixtureRecSpacing + fixtureTSOffset) }
	r7 := offsetOf(f, 7) // partition 1 (key 7 % 3)
	r25 := offsetOf(f, 25)
	for _, tc := range []struct {
		name string
		o    Options
		keep func(fixtureRecord) bool
	}{
		{"everything", Options{}, func(fixtureRecord) bool { return true }},
		{"keys", Options{Filter: Filter{Keys: []string{"ipv4-addr--01", "ipv4-addr--05"}}},
			func(r fixtureRecord) bool { return r.key == "ipv4-addr--01" || r.key == "ipv4-addr--05" }},
		{"types", Options{Filter: Filter{Types: []string{events.TypeRelationObserved, events.TypeIngestRejected}}},
			func(r fixtureRecord) bool {
				return r.typ == events.TypeRelationObserved || r.typ == events.TypeIngestRejected
			}},
		{"sources", Options{Filter: Filter{Sources: []string{"sensor-b"}}}, func(r fixtureRecord) bool { return r.source == "sensor-b" }},
		{"batches", Options{Filter: Filter{Batches: []string{"batch-0", "batch-2"}}},
			func(r fixtureRecord) bool { return r.batch == "batch-0" || r.batch == "batch-2" }},
		{"record timestamp range", Options{Filter: Filter{From: tsAt(10), To: tsAt(20)}},
			func(r fixtureRecord) bool { return r.i >= 10 && r.i < 20 }},
		// The same bounds on recorded_at, which is 2.5 minutes earlier than
		// the timestamp: records 13 to 22.
		{"recorded_at range", Options{Filter: Filter{From: tsAt(10), To: tsAt(20), TimeField: TimeRecordedAt}},
			func(r fixtureRecord) bool { return r.i >= 13 && r.i < 23 }},
		{"partition", Options{Partitions: []int32{2}}, func(r fixtureRecord) bool { return r.partition == 2 }},
		{"partition and offsets", Options{Partitions: []int32{r7.partition}, FromOffset: r7.offset, ToOffset: r25.offset},
			func(r fixtureRecord) bool {
				return r.partition == r7.partition && r.offset >= r7.offset && r.offset < r25.offset
			}},
		{"combined", Options{Partitions: []int32{1}, Filter: Filter{Types: []string{events.TypeEntityObserved}, Sources: []string{"sensor-a"}, From: tsAt(3)}},
			func(r fixtureRecord) bool {
				return r.partition == 1 && r.typ == events.TypeEntityObserved && r.source == "sensor-a" && r.i >= 3
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := f.selected(tc.keep)
			if len(want) == 0 || len(want) == fixtureRecords && tc.name != "everything" {
				t.Fatalf("the selector selects %d records: not a useful case", len(want))
			}
			dest := uniqueTopic("dest")
			ctx := context.Background()
			d, err := EnsureDestination(ctx, cfg, f.topic, dest, 1, false)
			if err != nil {
				t.Fatal(err)
			}
			if !d.Created || d.Partitions != fixtureParts {
				t.Fatalf("destination %+v", d)
			}
			sink, err := NewTopicSink(cfg, dest, TopicSinkOptions{})
			if err != nil {
				t.Fatal(err)
			}
			o := tc.o
			o.Topic = f.topic
			st, err := Run(ctx, cfg, o, sink)
			if err != nil {
				t.Fatal(err)
			}
			if st.Matched != int64(len(want)) || st.Written != int64(len(want)) {
				t.Errorf("stats %+v, want %d matched and written", st, len(want))
			}
			assertCopied(t, readAll(t, cfg, dest), want)
			if tc.name == "everything" && st.Undecodable != 1 {
				t.Errorf("undecodable = %d, want 1", st.Undecodable)
			}
		})
	}
}

// TestReplayToFile writes a range as NDJSON and checks every field of
// every line against the event produced.
func TestReplayToFile(t *testing.T) {
	cfg := stackKafka(t)
	f := newFixture(t, cfg)
	path := filepath.Join(t.TempDir(), "out.ndjson")
	sink, err := CreateFileSink(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := Run(context.Background(), cfg, Options{Topic: f.topic, Filter: Filter{Batches: []string{"batch-1"}}}, sink)
	if ferr := sink.Finish(err == nil); ferr != nil {
		t.Fatal(ferr)
	}
	if err != nil {
		t.Fatal(err)
	}
	want := f.selected(func(r fixtureRecord) bool { return r.batch == "batch-1" })
	if st.Written != int64(len(want)) {
		t.Fatalf("written %d, want %d", st.Written, len(want))
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("output mode %v, want 0600", fi.Mode().Perm())
	}
	if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*partial")); len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
	byID := map[string]fixtureRecord{}
	for _, r := range want {
		byID[r.event.ID.String()] = r
	}
	file, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	sc := bufio.NewScanner(file)
	lines := 0
	for sc.Scan() {
		lines++
		var l Line
		d := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		d.DisallowUnknownFields()
		if err := d.Decode(&l); err != nil {
			t.Fatalf("line %d: %v", lines, err)
		}
		r, ok := byID[l.EventID]
		if !ok {
			t.Fatalf("line %d: event %s was not selected", lines, l.EventID)
		}
		delete(byID, l.EventID)
		e := r.event
		vv := map[string]int64(e.Vector)
		if l.EventType != e.Type || l.SchemaVersion != e.SchemaVersion || l.RecordKey != e.Key || l.OriginPeer != e.OriginPeer ||
			!reflect.DeepEqual(l.VersionVector, vv) || l.HLC != int64(e.HLC) || l.Actor != LineActor(e.Actor) ||
			l.RequestID != e.RequestID || l.BatchID != e.BatchID || !l.RecordedAt.Equal(e.RecordedAt) ||
			l.Provenance != LineProvenance(e.Provenance) || l.Classification != e.Classification || l.PolicyVersion != e.PolicyVersion {
			t.Errorf("line %d envelope %+v, want %+v", lines, l, e)
		}
		if l.Topic != f.topic || l.Partition != r.partition || l.Offset != r.offset || !l.Timestamp.Equal(r.ts) {
			t.Errorf("line %d position %s/%d@%d %s, want %s/%d@%d %s", lines, l.Topic, l.Partition, l.Offset, l.Timestamp, f.topic, r.partition, r.offset, r.ts)
		}
		wantPayload, err := AppendNDJSON(nil, Position{}, e)
		if err != nil {
			t.Fatal(err)
		}
		var wl Line
		_ = json.Unmarshal(wantPayload, &wl)
		if !bytes.Equal(l.Payload, wl.Payload) {
			t.Errorf("line %d payload %s, want %s", lines, l.Payload, wl.Payload)
		}
		// Spot-check payload values against the Go payload, not only
		// against the encoder.
		var payload map[string]any
		if err := json.Unmarshal(l.Payload, &payload); err != nil {
			t.Fatal(err)
		}
		switch p := e.Payload.(type) {
		case events.EntityObserved:
			if payload["kind"] != p.Kind || payload["value"] != p.Value || payload["observed_at"] != p.ObservedAt.Format(time.RFC3339Nano) {
				t.Errorf("line %d entity payload %s", lines, l.Payload)
			}
		case events.IngestRejected:
			if payload["code"] != p.Code || payload["content"] != p.Content || payload["content_truncated"] != p.ContentTruncated {
				t.Errorf("line %d reject payload %s", lines, l.Payload)
			}
		case events.RelationObserved:
			if payload["relation_type"] != p.RelationType || payload["source"].(map[string]any)["key"] != p.Source.Key {
				t.Errorf("line %d relation payload %s", lines, l.Payload)
			}
		}
	}
	if lines != len(want) || len(byID) != 0 {
		t.Errorf("%d lines, want %d; missing %d events", lines, len(want), len(byID))
	}
}

// TestReplayDryRunWritesNothing: a dry run counts per event type what a
// replay would write, and neither creates the destination nor writes.
func TestReplayDryRunWritesNothing(t *testing.T) {
	cfg := stackKafka(t)
	f := newFixture(t, cfg)
	dest := uniqueTopic("dry")
	ctx := context.Background()
	d, err := EnsureDestination(ctx, cfg, f.topic, dest, 1, true)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Created {
		t.Errorf("dry run: destination %+v, want to be created", d)
	}
	sink, err := NewTopicSink(cfg, dest, TopicSinkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close(ctx)
	st, err := Run(ctx, cfg, Options{Topic: f.topic, DryRun: true, Rate: 1, Filter: Filter{Sources: []string{"sensor-a"}}}, sink)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{}
	for _, r := range f.selected(func(r fixtureRecord) bool { return r.source == "sensor-a" }) {
		want[r.typ]++
	}
	if !reflect.DeepEqual(st.ByType, want) || st.Matched != 15 || st.Written != 0 {
		t.Errorf("dry run stats %+v, want by type %v", st, want)
	}
	if st.Elapsed > 10*time.Second {
		t.Errorf("a dry run waited for the rate limit: %s", st.Elapsed)
	}
	infos, err := ListTopics(ctx, cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, ti := range infos {
		if ti.Name == dest {
			t.Fatalf("dry run created %s", dest)
		}
	}
}

// TestReplayRateLimit: with -rate 20 the 30 records of the fixture take at
// least (30 - burst) / 20 seconds, all are written, and progress reports
// grow monotonically.
func TestReplayRateLimit(t *testing.T) {
	cfg := stackKafka(t)
	f := newFixture(t, cfg)
	dest := uniqueTopic("rate")
	ctx := context.Background()
	if _, err := EnsureDestination(ctx, cfg, f.topic, dest, 1, false); err != nil {
		t.Fatal(err)
	}
	sink, err := NewTopicSink(cfg, dest, TopicSinkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var reports []Stats
	const r = 20.0
	st, err := Run(ctx, cfg, Options{Topic: f.topic, Rate: r, ProgressEvery: 200 * time.Millisecond, Progress: func(s Stats) {
		mu.Lock()
		reports = append(reports, s)
		mu.Unlock()
	}}, sink)
	if err != nil {
		t.Fatal(err)
	}
	if st.Written != fixtureRecords || len(readAll(t, cfg, dest)) != fixtureRecords {
		t.Fatalf("written %d, want %d", st.Written, fixtureRecords)
	}
	// The first Burst records pass at once, the rest at the rate; 80% of
	// that is a generous lower bound.
	minimum := time.Duration(float64(fixtureRecords-Burst(r)) / r * 0.8 * float64(time.Second))
	if st.Elapsed < minimum {
		t.Errorf("replayed %d records at -rate %v in %s, expected at least %s", fixtureRecords, r, st.Elapsed, minimum)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reports) < 2 {
		t.Fatalf("%d progress reports in %s", len(reports), st.Elapsed)
	}
	for i := 1; i < len(reports); i++ {
		a, b := reports[i-1], reports[i]
		if b.Read < a.Read || b.Matched < a.Matched || b.Written < a.Written || b.Elapsed < a.Elapsed {
			t.Errorf("progress went back: %+v then %+v", a, b)
		}
	}
}

// TestReplayIntoItself: replaying a topic into itself ends (it reads to the
// end offsets found at the start), appends each selected record once to
// its own partition, and skips excluded types.
func TestReplayIntoItself(t *testing.T) {
	cfg := stackKafka(t)
	f := newFixture(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d, err := EnsureDestination(ctx, cfg, f.topic, f.topic, 1, false)
	if err != nil || d.Created {
		t.Fatalf("destination %+v, %v", d, err)
	}
	sink, err := NewTopicSink(cfg, f.topic, TopicSinkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := Run(ctx, cfg, Options{Topic: f.topic, Exclude: OwnTopicExcluded}, sink)
	if err != nil {
		t.Fatal(err)
	}
	excluded := f.selected(func(r fixtureRecord) bool { return slices.Contains(OwnTopicExcluded, r.typ) })
	copied := f.selected(func(r fixtureRecord) bool { return !slices.Contains(OwnTopicExcluded, r.typ) })
	if len(excluded) == 0 || st.Skipped != int64(len(excluded)) || st.Written != int64(len(copied)) {
		t.Fatalf("stats %+v; want %d skipped, %d written", st, len(excluded), len(copied))
	}
	all := readAll(t, cfg, f.topic)
	if len(all) != len(f.records)+len(copied) {
		t.Fatalf("topic holds %d records, want %d", len(all), len(f.records)+len(copied))
	}
	// The records after the original ones are the copies, in order.
	var appended []*kgo.Record
	ends := map[int32]int64{}
	for _, r := range f.records {
		ends[r.partition] = max(ends[r.partition], r.offset+1)
	}
	for _, r := range all {
		if r.Offset >= ends[r.Partition] {
			appended = append(appended, r)
		}
	}
	assertCopied(t, appended, copied)
}

// TestReplayRefusesPartitionMismatch: records keep their partition number,
// so a destination with another partition count is refused before
// anything is written.
func TestReplayRefusesPartitionMismatch(t *testing.T) {
	cfg := stackKafka(t)
	f := newFixture(t, cfg)
	dest := uniqueTopic("two")
	createTopic(t, cfg, dest, 2)
	_, err := EnsureDestination(context.Background(), cfg, f.topic, dest, 1, false)
	if err == nil || !strings.Contains(err.Error(), "same count") {
		t.Fatalf("err = %v", err)
	}
	if _, err := EnsureDestination(context.Background(), cfg, uniqueTopic("missing"), dest, 1, false); err == nil {
		t.Fatal("a missing source topic was accepted")
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Split(strings.TrimSuffix(s.b.String(), "\n"), "\n")
}

// TestTail follows a topic from the beginning with a filter, sees the
// existing events and one appended while it runs, and returns nil when
// cancelled.
func TestTail(t *testing.T) {
	cfg := stackKafka(t)
	f := newFixture(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- Tail(ctx, cfg, TailOptions{Topic: f.topic, Start: Start{Beginning: true}, Filter: Filter{Types: []string{events.TypeRelationObserved}, Keys: []string{"ipv4-addr--01", "ipv4-addr--02"}}}, &out)
	}()
	want := f.selected(func(r fixtureRecord) bool {
		return r.typ == events.TypeRelationObserved && (r.key == "ipv4-addr--01" || r.key == "ipv4-addr--02")
	})
	waitLines := func(n int) []string {
		deadline := time.Now().Add(time.Minute)
		for time.Now().Before(deadline) {
			if l := out.lines(); len(l) >= n && l[0] != "" {
				return l
			}
			select {
			case err := <-done:
				t.Fatalf("tail ended early: %v", err)
			case <-time.After(50 * time.Millisecond):
			}
		}
		t.Fatalf("tail printed %q, want %d lines", out.lines(), n)
		return nil
	}
	waitLines(len(want))
	// A live append of a matching record.
	codec, _ := events.NewCodec()
	live := want[0].event
	live.ID = events.NewID()
	b, err := codec.Encode(live)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kafka.NewClient(cfg, freshMetadata)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: f.topic, Key: []byte(live.Key), Value: b}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	lines := waitLines(len(want) + 1)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("tail returned %v after cancel", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("tail did not return after cancel")
	}
	if len(lines) != len(want)+1 {
		t.Fatalf("%d lines, want %d: %q", len(lines), len(want)+1, lines)
	}
	seen := map[string]bool{}
	for _, l := range lines {
		var x Line
		if err := json.Unmarshal([]byte(l), &x); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		if x.EventType != events.TypeRelationObserved || (x.RecordKey != "ipv4-addr--01" && x.RecordKey != "ipv4-addr--02") || x.Topic != f.topic {
			t.Errorf("unexpected line %s", l)
		}
		seen[x.EventID] = true
	}
	for _, r := range want {
		if !seen[r.event.ID.String()] {
			t.Errorf("event %d not tailed", r.i)
		}
	}
	if !seen[live.ID.String()] {
		t.Error("the live append was not tailed")
	}
}

// TestListTopics lists the fixture's topic with its partitions and end
// offsets.
func TestListTopics(t *testing.T) {
	cfg := stackKafka(t)
	f := newFixture(t, cfg)
	infos, err := ListTopics(context.Background(), cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	ends := map[int32]int64{}
	for _, r := range f.records {
		ends[r.partition]++
	}
	for _, ti := range infos {
		if ti.Name != f.topic {
			continue
		}
		if len(ti.Partitions) != fixtureParts || ti.Replicas != 1 || ti.Records() != int64(len(f.records)) {
			t.Fatalf("topic %+v", ti)
		}
		for _, p := range ti.Partitions {
			if p.Start != 0 || p.End != ends[p.Partition] {
				t.Errorf("partition %+v, want end %d", p, ends[p.Partition])
			}
		}
		return
	}
	t.Fatalf("topic %s not listed", f.topic)
}
