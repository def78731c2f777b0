package backup

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

func sampleRecords() []Record {
	return []Record{
		{Partition: 2, Offset: 0, Timestamp: 1764300000123, Key: []byte("k0"), Value: []byte{0, 1, 2, 0xff}, Headers: []Header{{Key: "traceparent", Value: []byte("00-abc-01")}, {Key: "nil", Value: nil}, {Key: "empty", Value: []byte{}}}},
		{Partition: 2, Offset: 1, Timestamp: 1, Key: nil, Value: []byte("no key")},
		{Partition: 2, Offset: 5, Timestamp: 1764300000999, Key: []byte{}, Value: nil},
		{Partition: 2, Offset: 6, Timestamp: 42, Key: []byte("big"), Value: bytes.Repeat([]byte("x"), 3<<20)},
	}
}

// TestRecordFileRoundTrip: keys, values and header values come back byte
// for byte, null distinct from empty, headers in order, and the file is
// plain zstd-compressed NDJSON with base64 bytes.
func TestRecordFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "2.ndjson.zst")
	w, err := CreateRecordFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := sampleRecords()
	for _, r := range want {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	sum, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := hashFile(path); err != nil || got != sum {
		t.Fatalf("writer sum %+v, file %+v (%v)", sum, got, err)
	}
	if _, err := CreateRecordFile(path); err == nil {
		t.Fatal("an existing record file was opened for writing")
	}

	rr, err := OpenRecordFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Close()
	var got []Record
	for {
		r, err := rr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("records differ after the round trip")
	}
	if got[1].Key != nil || got[2].Key == nil || got[2].Value != nil || got[0].Headers[1].Value != nil || got[0].Headers[2].Value == nil {
		t.Fatal("null and empty are not kept apart")
	}

	// The documented format: zstd -dc gives one JSON object per line.
	f, _ := os.Open(path)
	defer f.Close()
	zr, err := zstd.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(plain), "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d lines for %d records", len(lines), len(want))
	}
	var first map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if first["key"] != "azA=" || first["partition"] != float64(2) || first["timestamp"] != float64(1764300000123) {
		t.Fatalf("first line: %s", lines[0])
	}
	if !strings.Contains(lines[1], `"key":null`) || strings.Contains(lines[1], `"headers"`) {
		t.Fatalf("second line: %s", lines[1])
	}
}

func TestRecordKafkaConversion(t *testing.T) {
	r := sampleRecords()[0]
	k := r.ToKafka("t")
	if k.Topic != "t" || k.Partition != 2 || !k.Timestamp.Equal(time.UnixMilli(r.Timestamp)) || len(k.Headers) != 3 || k.Headers[0].Key != "traceparent" {
		t.Fatalf("%+v", k)
	}
	k.Offset = 0
	back, err := FromKafka(k)
	if err != nil || !reflect.DeepEqual(back, r) {
		t.Fatalf("%+v %v", back, err)
	}
	k.Headers = append(k.Headers, k.Headers[0])
	k.Headers[3].Key = "\xff"
	if _, err := FromKafka(k); err == nil {
		t.Fatal("a header key that is not UTF-8 was accepted (JSON would change it)")
	}
}

func writeSampleBackup(t *testing.T) (string, *Manifest) {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "kafka", "events"), 0o700); err != nil {
		t.Fatal(err)
	}
	m := &Manifest{Format: Format, HeimdallVersion: "test", Files: map[string]FileManifest{}}
	tm := TopicManifest{Role: RoleEvents, Name: "heimdall.events", Partitions: 2, ReplicationFactor: 1, Configs: map[string]string{"retention.ms": "-1"}}
	for p := int32(0); p < 2; p++ {
		rel := "kafka/events/" + string(rune('0'+p)) + ".ndjson.zst"
		w, err := CreateRecordFile(filepath.Join(dir, filepath.FromSlash(rel)))
		if err != nil {
			t.Fatal(err)
		}
		for i := int64(0); i < 3; i++ {
			if err := w.Write(Record{Partition: p, Offset: i, Value: []byte("v")}); err != nil {
				t.Fatal(err)
			}
		}
		sum, err := w.Close()
		if err != nil {
			t.Fatal(err)
		}
		m.Files[rel] = FileManifest(sum)
		tm.PartitionDetails = append(tm.PartitionDetails, PartitionManifest{Partition: p, EndOffset: 3, Records: 3, FirstOffset: 0, LastOffset: 2, Contiguous: true, File: rel})
		tm.Records += 3
	}
	m.Kafka.Topics = []TopicManifest{tm}
	if err := WriteManifest(dir, m); err != nil {
		t.Fatal(err)
	}
	return dir, m
}

// TestManifestVerify: a manifest reads back as written; a changed, cut or
// missing file, or a manifest naming paths outside the backup, is refused.
func TestManifestVerify(t *testing.T) {
	dir, m := writeSampleBackup(t)
	got, err := ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Kafka, m.Kafka) || !reflect.DeepEqual(got.Files, m.Files) {
		t.Fatal("manifest changed on the way through JSON")
	}
	if err := VerifyFiles(dir, got); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "."+ManifestFile+".tmp")); !os.IsNotExist(err) {
		t.Fatal("the temporary manifest was left behind")
	}

	p := filepath.Join(dir, "kafka", "events", "1.ndjson.zst")
	b, _ := os.ReadFile(p)
	flipped := append([]byte{}, b...)
	flipped[len(flipped)/2] ^= 1
	_ = os.WriteFile(p, flipped, 0o600)
	if err := VerifyFiles(dir, got); err == nil || !strings.Contains(err.Error(), "SHA-256") {
		t.Fatalf("a flipped bit: %v", err)
	}
	_ = os.WriteFile(p, b[:len(b)-1], 0o600)
	if err := VerifyFiles(dir, got); err == nil || !strings.Contains(err.Error(), "bytes") {
		t.Fatalf("a cut file: %v", err)
	}
	_ = os.Remove(p)
	if err := VerifyFiles(dir, got); err == nil {
		t.Fatal("a missing file was not noticed")
	}

	bad := *got
	bad.Files = map[string]FileManifest{"../outside": {}}
	for k, v := range got.Files {
		bad.Files[k] = v
	}
	if err := bad.check(); err == nil || !strings.Contains(err.Error(), "not a path inside") {
		t.Fatalf("a path outside the backup: %v", err)
	}
	bad = *got
	bad.Kafka.Topics = []TopicManifest{got.Kafka.Topics[0]}
	bad.Kafka.Topics[0].Records = 5
	if err := bad.check(); err == nil {
		t.Fatal("counts that do not add up were accepted")
	}
	if _, err := ReadManifest(t.TempDir()); err == nil || !strings.Contains(err.Error(), "unfinished") {
		t.Fatalf("no manifest: %v", err)
	}
	other := *got
	other.Format = "heimdall-backup/99"
	_ = WriteManifest(dir, &other)
	if _, err := ReadManifest(dir); err == nil || !strings.Contains(err.Error(), "format") {
		t.Fatalf("another format: %v", err)
	}
}

func TestPrepareDir(t *testing.T) {
	base := t.TempDir()
	created, err := prepareDir(filepath.Join(base, "new", "dir"))
	if err != nil || !created {
		t.Fatalf("new dir: %v %v", created, err)
	}
	if st, _ := os.Stat(filepath.Join(base, "new", "dir")); st.Mode().Perm() != 0o700 {
		t.Fatalf("mode %v", st.Mode())
	}
	created, err = prepareDir(filepath.Join(base, "new", "dir"))
	if err != nil || created {
		t.Fatalf("empty dir: %v %v", created, err)
	}
	if _, err := prepareDir(filepath.Join(base, "new")); err == nil {
		t.Fatal("a directory with content was accepted")
	}
}

func TestMaxBatchBytes(t *testing.T) {
	if n := maxBatchBytes(nil); n != 1<<20 {
		t.Fatal(n)
	}
	tms := []TopicManifest{{Configs: map[string]string{"max.message.bytes": "8388608"}}, {Configs: map[string]string{"max.message.bytes": "4194304"}}, {}}
	if n := maxBatchBytes(tms); n != 4<<20 {
		t.Fatal(n)
	}
}
