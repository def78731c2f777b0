package backup

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/heimdallhub/heimdall/internal/config/devstack"
	"github.com/heimdallhub/heimdall/internal/kafka"
)

// Integration tests against the development stack (source .stack/env);
// -short skips them.

func stack(t *testing.T) devstack.Stack {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test against the development stack (skipped with -short)")
	}
	return devstack.Env(t)
}

func pgBinDir(t *testing.T) string {
	t.Helper()
	d := os.Getenv(PGBinDirEnv)
	if d == "" {
		t.Fatalf("%s is not set: run deploy/stack.sh up (it writes the PostgreSQL 17 client wrappers) and source .stack/env", PGBinDirEnv)
	}
	return d
}

func suffix(t *testing.T) string {
	t.Helper()
	b := make([]byte, 5)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func kafkaConfig(t testing.TB, st devstack.Stack) kafka.Config {
	return st.Kafka(t, devstack.KafkaAdmin)
}

func deleteTopics(t *testing.T, adm *kadm.Client, names ...string) {
	t.Helper()
	ctx := context.Background()
	if _, err := adm.DeleteTopics(ctx, names...); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		d, err := adm.ListTopics(ctx, names...)
		gone := err == nil
		for _, n := range names {
			if td, ok := d[n]; ok && td.Err == nil {
				gone = false
			}
		}
		if gone {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("topics %v not deleted within a minute", names)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func readAll(t *testing.T, cfg kafka.Config, topic string, partitions int32) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := kafka.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ends, err := kafka.EndOffsets(ctx, cl, topic)
	cl.Close()
	if err != nil {
		t.Fatal(err)
	}
	offsets := map[int32]kgo.Offset{}
	var want int
	for p, e := range ends {
		offsets[p] = kgo.NewOffset().AtStart()
		want += int(e)
	}
	cl, err = kafka.NewClient(cfg, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for len(recs) < want {
		f := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %d of %d records of %s", len(recs), want, topic)
		}
		f.EachRecord(func(r *kgo.Record) { recs = append(recs, r) })
	}
	return recs
}

type recordKey struct {
	p   int32
	off int64
}

func byPosition(recs []*kgo.Record) map[recordKey]*kgo.Record {
	out := map[recordKey]*kgo.Record{}
	for _, r := range recs {
		out[recordKey{r.Partition, r.Offset}] = r
	}
	return out
}

// TestKafkaBackupRestore: every record of a topic, with null and empty keys
// and values, headers (one with a null value) and old timestamps, comes
// back to the same partition and offset with the same bytes, after the
// topic was deleted; the topic's own settings come back too. A second
// restore onto the restored topic is refused.
func TestKafkaBackupRestore(t *testing.T) {
	st := stack(t)
	ctx := context.Background()
	cfg := kafkaConfig(t, st)
	name := "heimdall.backup-test." + suffix(t) + ".events"
	admin, err := kafka.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	adm := kadm.NewClient(admin)
	t.Cleanup(func() { _, _ = adm.DeleteTopics(context.Background(), name) })
	configs := kafka.EventLogConfigs(1)
	configs["retention.ms"] = "-1"
	if err := kafka.EnsureTopics(ctx, admin, kafka.TopicSpec{Name: name, Partitions: 3, ReplicationFactor: 1, Configs: configs}); err != nil {
		t.Fatal(err)
	}
	prod, err := kafka.NewClient(cfg, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	var sent int
	for i := range 500 {
		r := &kgo.Record{Topic: name, Partition: int32(i % 2), Timestamp: base.Add(time.Duration(i) * time.Millisecond),
			Key: []byte(fmt.Sprintf("key-%d", i)), Value: bytes.Repeat([]byte{byte(i)}, i%50)}
		switch i % 7 {
		case 0:
			r.Key = nil
		case 1:
			r.Headers = []kgo.RecordHeader{{Key: "traceparent", Value: []byte("00-" + fmt.Sprint(i))}, {Key: "null", Value: nil}}
		case 2:
			r.Value = nil
		}
		if err := prod.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
		sent++
	}
	prod.Close()
	before := readAll(t, cfg, name, 3)
	if len(before) != sent {
		t.Fatalf("read %d of %d", len(before), sent)
	}

	dir := filepath.Join(t.TempDir(), "backup")
	var out bytes.Buffer
	m, err := Backup(ctx, Options{Dir: dir, Kafka: cfg, Topics: []Topic{{Role: RoleEvents, Name: name}}, SkipPostgres: true, HeimdallVersion: "test", Out: &out})
	if err != nil {
		t.Fatalf("backup: %v\n%s", err, out.String())
	}
	tm, _ := m.Topic(RoleEvents)
	if tm.Records != int64(sent) || tm.Partitions != 3 || tm.Configs["retention.ms"] != "-1" || tm.Configs["cleanup.policy"] != "delete" {
		t.Fatalf("manifest topic %+v", tm)
	}
	if p2 := tm.PartitionDetails[2]; p2.Records != 0 || !p2.Contiguous || p2.FirstOffset != -1 {
		t.Fatalf("empty partition: %+v", p2)
	}
	for _, pm := range tm.PartitionDetails[:2] {
		if pm.Records != 250 || !pm.Contiguous || pm.EndOffset != 250 || pm.LastOffset != 249 {
			t.Fatalf("partition %+v", pm)
		}
	}
	if _, err := Backup(ctx, Options{Dir: dir, Kafka: cfg, Topics: []Topic{{Role: RoleEvents, Name: name}}, SkipPostgres: true}); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("a backup into a used directory: %v", err)
	}

	deleteTopics(t, adm, name)
	out.Reset()
	res, err := Restore(ctx, RestoreOptions{Dir: dir, Kafka: cfg, Topics: []Topic{{Role: RoleEvents, Name: name}}, ReplicationFactor: 1, SkipPostgres: true, Out: &out})
	if err != nil {
		t.Fatalf("restore: %v\n%s", err, out.String())
	}
	if len(res.Topics) != 1 || res.Topics[0].Records != int64(sent) || !res.Topics[0].SameOffsets {
		t.Fatalf("result %+v", res.Topics)
	}
	after := byPosition(readAll(t, cfg, name, 3))
	if len(after) != sent {
		t.Fatalf("%d records after the restore, want %d", len(after), sent)
	}
	for _, b := range before {
		a, ok := after[recordKey{b.Partition, b.Offset}]
		if !ok {
			t.Fatalf("record %d/%d missing", b.Partition, b.Offset)
		}
		if !bytes.Equal(a.Key, b.Key) || (a.Key == nil) != (b.Key == nil) || !bytes.Equal(a.Value, b.Value) || (a.Value == nil) != (b.Value == nil) ||
			!a.Timestamp.Equal(b.Timestamp) || !reflect.DeepEqual(a.Headers, b.Headers) {
			t.Fatalf("record %d/%d differs:\n%+v\n%+v", b.Partition, b.Offset, a, b)
		}
	}
	l, err := describeTopic(ctx, adm, name)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(l.configs, tm.Configs) {
		t.Fatalf("settings %v, backed up %v", l.configs, tm.Configs)
	}

	// The target now holds records: refused, and nothing is added.
	_, err = Restore(ctx, RestoreOptions{Dir: dir, Kafka: cfg, Topics: []Topic{{Role: RoleEvents, Name: name}}, SkipPostgres: true})
	if err == nil || !strings.Contains(err.Error(), "already holds 500 records") {
		t.Fatalf("restore onto a used topic: %v", err)
	}
	if n := len(readAll(t, cfg, name, 3)); n != sent {
		t.Fatalf("%d records after a refused restore", n)
	}
}

// testDB creates a database from template1 (age and vector installed) and
// returns its URL; it is dropped when the test ends.
func testDB(t *testing.T, st devstack.Stack, name string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, st.PostgresURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dropDB(t, st, name) })
	u, err := url.Parse(st.PostgresURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// dropDB drops a database; only the superuser may end an autovacuum worker
// busy in it, so the admin URL is used when there is one, with retries.
func dropDB(t *testing.T, st devstack.Stack, name string) {
	t.Helper()
	dropper := st.PostgresURL
	if st.PostgresAdminURL != "" {
		dropper = st.PostgresAdminURL
	}
	var err error
	for range 50 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		var conn *pgx.Conn
		if conn, err = pgx.Connect(ctx, dropper); err == nil {
			_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
			conn.Close(ctx)
		}
		cancel()
		if err == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("dropping database %s: %v", name, err)
}

const ageFixture = `
SET search_path = ag_catalog, "$user", public;
SELECT create_graph('heimdall_1');
SELECT * FROM cypher('heimdall_1', $$ CREATE (:Person {name: 'ann'})-[:KNOWS {since: 2020}]->(:Person {name: 'bob'}) $$) AS (r agtype);
SELECT create_graph('heimdall_2');
SELECT * FROM cypher('heimdall_2', $$ CREATE (:City {name: 'x'}) $$) AS (r agtype);
CREATE SCHEMA heimdall;
CREATE TABLE heimdall.generations (graph_name text, state text);
INSERT INTO heimdall.generations VALUES ('heimdall_1', 'active'), ('heimdall_2', 'retired');
CREATE SCHEMA heimdall_keys;
CREATE TABLE heimdall_keys.data_keys (id text PRIMARY KEY, wrapped bytea);
INSERT INTO heimdall_keys.data_keys VALUES ('k1', '\x0102'), ('k2', '\x0304');
CREATE TABLE heimdall_1.similarity (key text PRIMARY KEY, embedding vector(3));
INSERT INTO heimdall_1.similarity VALUES ('a', '[1,2,3]');
CREATE INDEX ON heimdall_1.similarity USING hnsw (embedding vector_cosine_ops);
`

func cypherRows(t *testing.T, conn *pgx.Conn, graph, query string) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), fmt.Sprintf(`SELECT ag_catalog.agtype_out(r)::text FROM ag_catalog.cypher('%s', $$ %s $$) AS (r ag_catalog.agtype)`, graph, query))
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("cypher on %s: %v", graph, err)
	}
	return out
}

// TestPostgresDumpRestoreAGE: a database with AGE graphs, pgvector data and
// Heimdall-like schemas, dumped by pg_dump 17 and restored by the
// application role into a new empty database, comes back with AGE's
// catalog consistent (graph ids equal to the restored schemas' oids, as
// create_graph makes them), Cypher reads, label creation and new graphs
// working, and the counts of the manifest. A restore into the now used
// database is refused, and so is a pg_dump of another major version.
func TestPostgresDumpRestoreAGE(t *testing.T) {
	st := stack(t)
	bin := pgBinDir(t)
	ctx := context.Background()
	name := "heimdall_backup_test_" + suffix(t)
	dbURL := testDB(t, st, name)
	target := pgTarget{URL: dbURL, CAFile: st.CAFile, TLS: st.TLSConfig(), BinDir: bin}
	conn, err := target.connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range strings.Split(strings.TrimSpace(ageFixture), ";\n") {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	wantRows := cypherRows(t, conn, "heimdall_1", `MATCH (a)-[k:KNOWS]->(b) RETURN [a.name, k.since, b.name]`)
	conn.Close(ctx)

	// Another major version is refused before anything is written.
	fake := t.TempDir()
	fakeTool(t, fake, "pg_dump", "15.4")
	if _, _, _, err := dumpPostgres(ctx, pgTarget{URL: dbURL, CAFile: st.CAFile, TLS: st.TLSConfig(), BinDir: fake}, t.TempDir()); err == nil ||
		!strings.Contains(err.Error(), "PostgreSQL 15") {
		t.Fatalf("pg_dump 15 against a 17 server: %v", err)
	}

	dir := t.TempDir()
	pm, keys, sum, err := dumpPostgres(ctx, target, dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(pm.Graphs, []string{"heimdall_1", "heimdall_2"}) || pm.ActiveGraph != "heimdall_1" || pm.Vertices != 2 || pm.Edges != 1 ||
		pm.DataKeys != 2 || len(keys) != 2 || pm.Labels != 7 || pm.Extensions["age"] == "" || pm.Extensions["vector"] == "" || sum.Bytes == 0 {
		t.Fatalf("manifest %+v keys %v", pm, keys)
	}
	if !reflect.DeepEqual(pm.Schemas, []string{"heimdall", "heimdall_1", "heimdall_2", "heimdall_keys"}) {
		t.Fatalf("schemas %v", pm.Schemas)
	}

	// Destroyed and recreated empty under the same name.
	dropDB(t, st, name)
	testDB(t, st, name)
	plan, err := checkPostgresTarget(ctx, target, pm, false)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := restorePostgres(ctx, target, plan, dir, pm, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "2 graph ids set") {
		t.Errorf("output: %s", out.String())
	}
	conn, err = target.connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var mismatched int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM ag_catalog.ag_graph WHERE graphid <> namespace::oid`).Scan(&mismatched); err != nil || mismatched != 0 {
		t.Fatalf("graph ids not repaired: %d %v", mismatched, err)
	}
	if got := cypherRows(t, conn, "heimdall_1", `MATCH (a)-[k:KNOWS]->(b) RETURN [a.name, k.since, b.name]`); !reflect.DeepEqual(got, wantRows) {
		t.Fatalf("cypher after the restore: %v, want %v", got, wantRows)
	}
	// Writes: new vertices of old and new labels, a new graph.
	cypherRows(t, conn, "heimdall_1", `MATCH (a:Person {name: 'ann'}) CREATE (a)-[:LIKES]->(:Dog {name: 'rex'}) RETURN a.name`)
	if got := cypherRows(t, conn, "heimdall_1", `MATCH (:Person)-[:LIKES]->(d:Dog) RETURN d.name`); len(got) != 1 {
		t.Fatalf("new label after the restore: %v", got)
	}
	if _, err := conn.Exec(ctx, `SELECT ag_catalog.create_graph('heimdall_3')`); err != nil {
		t.Fatalf("create_graph after the restore: %v", err)
	}
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM heimdall_1.similarity WHERE embedding <=> '[1,2,3]' < 0.01`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("pgvector data: %d %v", n, err)
	}

	// Not empty any more: refused.
	if _, err := checkPostgresTarget(ctx, target, pm, false); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("restore into a used database: %v", err)
	}
}
