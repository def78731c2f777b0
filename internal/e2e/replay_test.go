package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/internal/config/devstack"
	"github.com/heimdallhub/heimdall/internal/kafka"
	"github.com/heimdallhub/heimdall/internal/replay"
)

// replayCommand is `heimdall args...` with the instance's environment;
// stdout and stderr apart.
func (in *instance) replayCommand(args ...string) *exec.Cmd {
	cmd := exec.Command(heimdallBinary(in.t), args...)
	for k, v := range in.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd
}

// runSplit runs a heimdall command to completion and returns its stdout
// and stderr.
func (in *instance) runSplit(args ...string) (string, string, error) {
	in.t.Helper()
	cmd := in.replayCommand(args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// mustRun runs a heimdall command and fails the test unless it succeeds.
func (in *instance) mustRun(args ...string) string {
	in.t.Helper()
	out, err := in.run(nil, args...)
	if err != nil {
		in.t.Fatalf("heimdall %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

type decodedRecord struct {
	rec events.LogRecord
	ev  events.Event
}

func decodeAll(t *testing.T, recs []events.LogRecord) []decodedRecord {
	t.Helper()
	codec, err := events.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]decodedRecord, len(recs))
	for i, r := range recs {
		e, err := codec.Decode(r.Value)
		if err != nil {
			t.Fatalf("%s/%d@%d: %v", r.Topic, r.Partition, r.Offset, err)
		}
		out[i] = decodedRecord{r, e}
	}
	return out
}

func (in *instance) provenanceRows(ctx context.Context) int64 {
	in.t.Helper()
	s := in.store()
	g, err := s.ActiveGraph(ctx)
	if err != nil {
		in.t.Fatal(err)
	}
	var n int64
	if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM "`+g+`".provenance`).Scan(&n); err != nil {
		in.t.Fatal(err)
	}
	return n
}

// sameRecord reports whether a and b hold the same key, value, headers and
// timestamp.
func sameRecord(a, b events.LogRecord) bool {
	return bytes.Equal(a.Key, b.Key) && bytes.Equal(a.Value, b.Value) && maps.Equal(a.Headers, b.Headers) && a.Timestamp.Equal(b.Timestamp)
}

// TestReplayIntoOwnTopicChangesNothing: replaying one ingest batch, then a
// time range, into Heimdall's own events topic appends exact copies (same
// event ids) and, once projected, leaves the graph — vertices, edges, their
// properties (digest) and provenance rows — exactly as it was.
func TestReplayIntoOwnTopicChangesNothing(t *testing.T) {
	in := newInstance(t)
	in.serve("serve", nil)
	s := in.store()
	ctx := context.Background()
	first := in.mustIngest(flowLines(0, 300), "source=replay-a&file=a.ndjson")
	second := in.mustIngest(flowLines(300, 200), "source=replay-b&file=b.ndjson")
	in.waitProjected(s, 2*time.Minute)
	v1, e1, err := s.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d1, err := s.Digest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p1 := in.provenanceRows(ctx)
	before := decodeAll(t, in.topicRecords(in.eventsT))
	byID := map[string]events.LogRecord{}
	var inBatch int
	for _, d := range before {
		byID[d.ev.ID.String()] = d.rec
		if d.ev.BatchID == first.BatchID {
			inBatch++
		}
	}
	if inBatch == 0 || int64(inBatch) != first.Events {
		t.Fatalf("batch %s: %d events on the log, ingest said %d", first.BatchID, inBatch, first.Events)
	}

	// 1. One batch, by id.
	out := in.mustRun("replay", "-quiet", "-to-topic", in.eventsT, "-batch", first.BatchID)
	if !strings.Contains(out, fmt.Sprintf("replayed %d of %d records", inBatch, len(before))) {
		t.Fatalf("replay -batch output:\n%s", out)
	}

	// 2. A time range on the record timestamp, covering the second batch's
	// records; the copies just appended keep their timestamps, so the
	// range selects those of them that fall in it too.
	mid := decodeAll(t, in.topicRecords(in.eventsT))
	var from, to time.Time
	for _, d := range before {
		if d.ev.BatchID != second.BatchID {
			continue
		}
		if from.IsZero() || d.rec.Timestamp.Before(from) {
			from = d.rec.Timestamp
		}
		if d.rec.Timestamp.After(to) {
			to = d.rec.Timestamp
		}
	}
	to = to.Add(time.Millisecond) // the range excludes its end
	inRange := 0
	for _, d := range mid {
		if !d.rec.Timestamp.Before(from) && d.rec.Timestamp.Before(to) {
			inRange++
		}
	}
	if inRange < int(second.Events) {
		t.Fatalf("time range [%s, %s) selects %d records, fewer than batch %s's %d", from, to, inRange, second.BatchID, second.Events)
	}
	out = in.mustRun("replay", "-quiet", "-to-topic", in.eventsT,
		"-from-time", from.Format(time.RFC3339Nano), "-to-time", to.Format(time.RFC3339Nano))
	if !strings.Contains(out, fmt.Sprintf("replayed %d of", inRange)) {
		t.Fatalf("replay -from-time/-to-time output (want %d):\n%s", inRange, out)
	}

	// The log grew by exact copies: no new event id, each copy equal to
	// its original, in the same partition.
	after := decodeAll(t, in.topicRecords(in.eventsT))
	if want := len(before) + inBatch + inRange; len(after) != want {
		t.Fatalf("events topic holds %d records, want %d", len(after), want)
	}
	copies := 0
	for _, d := range after {
		orig, ok := byID[d.ev.ID.String()]
		if !ok {
			t.Fatalf("replay wrote a new event id %s", d.ev.ID)
		}
		if d.rec.Offset != orig.Offset || d.rec.Partition != orig.Partition {
			copies++
			if d.rec.Partition != orig.Partition || !sameRecord(d.rec, orig) {
				t.Errorf("copy %d@%d of %d@%d differs", d.rec.Partition, d.rec.Offset, orig.Partition, orig.Offset)
			}
		}
	}
	if copies != inBatch+inRange {
		t.Errorf("%d copies, want %d", copies, inBatch+inRange)
	}

	in.waitProjected(s, 2*time.Minute)
	v2, e2, _ := s.Counts(ctx)
	d2, err := s.Digest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v1 != v2 || e1 != e2 || d1 != d2 {
		t.Fatalf("replay changed the graph: %d/%d vertices, %d/%d edges, digest %s/%s", v1, v2, e1, e2, d1, d2)
	}
	if p2 := in.provenanceRows(ctx); p2 != p1 {
		t.Fatalf("replay changed provenance: %d rows, was %d", p2, p1)
	}
}

// TestReplayRangeToTopicAndFile: one partition's offset range replayed into
// a fresh topic arrives unchanged in the same partition of a topic created
// with the source's partition count; the same range as NDJSON (to a file
// and to stdout) carries every field of every event as the log holds it; a
// dry run counts and writes nothing; usage mistakes exit 2.
func TestReplayRangeToTopicAndFile(t *testing.T) {
	in := newInstance(t)
	in.serve("serve", nil)
	res := in.mustIngest(flowLines(0, 200), "source=range&file=range.ndjson")
	all := decodeAll(t, in.topicRecords(in.eventsT))
	var part []decodedRecord
	for _, d := range all {
		if d.rec.Partition == 1 {
			part = append(part, d)
		}
	}
	if len(part) < 40 {
		t.Fatalf("partition 1 holds %d records", len(part))
	}
	lo, hi := part[5].rec.Offset, part[35].rec.Offset // [lo, hi): 30 records
	want := part[5:35]
	rangeArgs := []string{"-partition", "1", "-from-offset", strconv.FormatInt(lo, 10), "-to-offset", strconv.FormatInt(hi, 10)}

	// Dry run: counts per type, writes nothing, creates nothing.
	fresh := "heimdall.e2e." + randomSuffix() + ".replayed"
	out := in.mustRun(append([]string{"replay", "-quiet", "-dry-run", "-to-topic", fresh}, rangeArgs...)...)
	perType := map[string]int{}
	for _, d := range want {
		perType[d.ev.Type]++
	}
	if !strings.Contains(out, fmt.Sprintf("would replay %d of %d records", len(want), len(want))) {
		t.Fatalf("dry run output:\n%s", out)
	}
	for typ, n := range perType {
		if !strings.Contains(out, fmt.Sprintf("%-28s %d", typ, n)) {
			t.Errorf("dry run does not count %d %s:\n%s", n, typ, out)
		}
	}
	kc := in.st.Kafka(in.t, devstack.KafkaAdmin)
	if infos, err := replay.ListTopics(context.Background(), kc, false); err != nil {
		t.Fatal(err)
	} else {
		for _, ti := range infos {
			if ti.Name == fresh {
				t.Fatalf("the dry run created %s", fresh)
			}
		}
	}

	// To a fresh topic.
	out = in.mustRun(append([]string{"replay", "-to-topic", fresh}, rangeArgs...)...)
	if !strings.Contains(out, fmt.Sprintf("replayed %d of %d records", len(want), len(want))) || !strings.Contains(out, "created with 3 partitions") {
		t.Fatalf("replay output:\n%s", out)
	}
	if !strings.Contains(out, fmt.Sprintf("1:[%d,%d)", lo, hi)) {
		t.Errorf("offsets read not reported:\n%s", out)
	}
	copied := in.topicRecords(fresh)
	if len(copied) != len(want) {
		t.Fatalf("%s holds %d records, want %d", fresh, len(copied), len(want))
	}
	for i, c := range copied {
		if c.Partition != 1 || c.Offset != int64(i) || !sameRecord(c, want[i].rec) {
			t.Errorf("record %d: %d@%d key %s, want partition 1 offset %d, equal to %d@%d", i, c.Partition, c.Offset, c.Key, i, want[i].rec.Partition, want[i].rec.Offset)
		}
	}
	cl, err := kafka.NewClient(kc)
	if err != nil {
		t.Fatal(err)
	}
	ends, err := kafka.EndOffsets(context.Background(), cl, fresh)
	cl.Close()
	if err != nil || len(ends) != 3 {
		t.Fatalf("%s partitions: %v %v", fresh, ends, err)
	}

	// To a file and to stdout, as NDJSON.
	path := filepath.Join(t.TempDir(), "range.ndjson")
	in.mustRun(append([]string{"replay", "-quiet", "-to-file", path}, rangeArgs...)...)
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	assertNDJSON(t, file, in.eventsT, want, res.BatchID)
	stdout, stderr, err := in.runSplit(append([]string{"replay", "-quiet", "-to-file", "-"}, rangeArgs...)...)
	if err != nil {
		t.Fatalf("replay -to-file -: %v\n%s", err, stderr)
	}
	if stdout != string(file) {
		t.Errorf("stdout differs from the file:\n%s\n---\n%s", stdout, file)
	}
	if !strings.Contains(stderr, fmt.Sprintf("replayed %d of", len(want))) {
		t.Errorf("summary not on stderr: %s", stderr)
	}

	// Usage mistakes exit 2 and name the problem.
	for _, args := range [][]string{
		{"replay"},
		{"replay", "-dry-run", "-from-offset", "3"},
		{"replay", "-dry-run", "-from-time", "yesterday"},
		{"replay", "-to-topic", in.eventsT, "-type", events.TypeClassificationChanged},
		{"replay", "-to-topic", "a", "-to-file", "b"},
		{"topics", "tail", "-from", "soon"},
	} {
		out, err := in.run(nil, args...)
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 {
			t.Errorf("heimdall %v: %v, want exit status 2\n%s", args, err, out)
		}
	}
}

// assertNDJSON checks the lines of b field by field against the decoded
// source records.
func assertNDJSON(t *testing.T, b []byte, topic string, want []decodedRecord, batch string) {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	i := 0
	for ; sc.Scan(); i++ {
		if i >= len(want) {
			t.Fatalf("more than %d lines", len(want))
		}
		var m map[string]any
		d := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		d.UseNumber()
		if err := d.Decode(&m); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		r, e := want[i].rec, want[i].ev
		vv := map[string]any{}
		for p, c := range e.Vector {
			vv[p] = json.Number(strconv.FormatInt(c, 10))
		}
		num := func(n int64) json.Number { return json.Number(strconv.FormatInt(n, 10)) }
		expect := map[string]any{
			"event_id":       e.ID.String(),
			"event_type":     e.Type,
			"schema_version": num(int64(e.SchemaVersion)),
			"record_key":     e.Key,
			"origin_peer":    e.OriginPeer,
			"version_vector": vv,
			"hlc":            num(int64(e.HLC)),
			"actor":          map[string]any{"subject": e.Actor.Subject, "issuer": e.Actor.Issuer},
			"request_id":     e.RequestID,
			"batch_id":       batch,
			"recorded_at":    e.RecordedAt.UTC().Format(time.RFC3339Nano),
			"provenance":     map[string]any{"source": "range", "format": e.Provenance.Format, "file": "range.ndjson", "line": num(e.Provenance.Line), "byte_offset": num(e.Provenance.ByteOffset)},
			"classification": e.Classification,
			"policy_version": e.PolicyVersion,
			"topic":          topic,
			"partition":      num(int64(r.Partition)),
			"offset":         num(r.Offset),
			"timestamp":      r.Timestamp.UTC().Format(time.RFC3339Nano),
			"payload":        nil, // checked below
		}
		for k, v := range expect {
			if k == "payload" {
				continue
			}
			if !reflect.DeepEqual(m[k], v) {
				t.Errorf("line %d: %s = %#v, want %#v", i+1, k, m[k], v)
			}
		}
		for k := range m {
			if _, ok := expect[k]; !ok {
				t.Errorf("line %d: unexpected field %s", i+1, k)
			}
		}
		p, _ := m["payload"].(map[string]any)
		attrs := func(as []events.Attribute) []any {
			out := []any{}
			for _, a := range as {
				out = append(out, map[string]any{"name": a.Name, "value": a.Value})
			}
			return out
		}
		ep := func(x events.Endpoint) map[string]any {
			return map[string]any{"key": x.Key, "kind": x.Kind, "value": x.Value}
		}
		var wantPayload map[string]any
		switch pl := e.Payload.(type) {
		case events.EntityObserved:
			wantPayload = map[string]any{"kind": pl.Kind, "value": pl.Value, "observed_at": pl.ObservedAt.UTC().Format(time.RFC3339Nano), "attributes": attrs(pl.Attributes)}
		case events.RelationObserved:
			wantPayload = map[string]any{"relation_type": pl.RelationType, "source": ep(pl.Source), "target": ep(pl.Target),
				"observed_at": pl.ObservedAt.UTC().Format(time.RFC3339Nano), "attributes": attrs(pl.Attributes)}
		default:
			t.Fatalf("line %d: unexpected payload %T in a flow ingest", i+1, pl)
		}
		if !reflect.DeepEqual(p, wantPayload) {
			t.Errorf("line %d: payload %#v, want %#v", i+1, p, wantPayload)
		}
	}
	if i != len(want) {
		t.Errorf("%d lines, want %d", i, len(want))
	}
}

// TestTopicsTailAndList: `heimdall topics tail` prints the events selected
// as NDJSON, from the beginning and then live, until interrupted (exit 0);
// `heimdall topics list` shows the events topic with its partitions and
// records.
func TestTopicsTailAndList(t *testing.T) {
	in := newInstance(t)
	in.serve("serve", nil)
	in.mustIngest(flowLines(0, 20), "source=tail-a")

	cmd := in.replayCommand("topics", "tail", "-from", "beginning", "-type", events.TypeRelationObserved)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()
	lines := make(chan replay.Line, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			var l replay.Line
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				t.Errorf("tail printed %q: %v", sc.Text(), err)
				continue
			}
			lines <- l
		}
	}()
	seen := map[string]int{}
	wait := func(source string, n int) {
		t.Helper()
		deadline := time.After(time.Minute)
		for seen[source] < n {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("tail ended: %s", stderr.String())
				}
				if l.EventType != events.TypeRelationObserved || l.Topic != in.eventsT || l.RecordKey == "" {
					t.Errorf("unexpected line %+v", l)
				}
				seen[l.Provenance.Source]++
			case <-deadline:
				t.Fatalf("tail printed %v, want %d of %s\n%s", seen, n, source, stderr.String())
			}
		}
	}
	wait("tail-a", 20)
	in.mustIngest(flowLines(100, 5), "source=tail-b")
	wait("tail-b", 5)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		for range lines {
			// drain until the pipe closes
		}
		done <- cmd.Wait()
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("tail after SIGINT: %v\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("tail did not stop on SIGINT")
	}
	if seen["tail-a"] != 20 || seen["tail-b"] != 5 {
		t.Errorf("tail printed %v", seen)
	}

	out := in.mustRun("topics", "list")
	var row string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, in.eventsT+" ") {
			row = l
		}
	}
	f := strings.Fields(row)
	if len(f) < 4 || f[1] != "3" || f[3] != "75" {
		t.Fatalf("topics list row for %s: %q (want 3 partitions, 75 records)\n%s", in.eventsT, row, out)
	}
}
