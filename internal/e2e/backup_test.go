package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/heimdallhub/heimdall/internal/backup"
	"github.com/heimdallhub/heimdall/internal/config/devstack"
	"github.com/heimdallhub/heimdall/internal/kafka"
	"github.com/heimdallhub/heimdall/internal/observable"
)

// backupEnv is what `heimdall backup` and `restore` need beyond the
// instance's environment: the PostgreSQL 17 client programs.
func backupEnv(t *testing.T) map[string]string {
	t.Helper()
	dir := os.Getenv(backup.PGBinDirEnv)
	if dir == "" {
		t.Fatalf("%s is not set: run deploy/stack.sh up (it writes the PostgreSQL 17 client wrappers) and source .stack/env", backup.PGBinDirEnv)
	}
	return map[string]string{backup.PGBinDirEnv: dir, "PATH": os.Getenv("PATH")}
}

// populated is what a test saw before its disaster.
type populated struct {
	digest          string
	vertices, edges int64
	emails          map[string]string // personal key -> address
	ends            map[string]map[int32]int64
}

// populate ingests a few hundred flows and records with e-mail addresses
// (encrypted by the built-in policy, so data keys exist), decrypts one
// (an audit record), waits until everything is projected and returns the
// graph's digest and the topics' end offsets.
func (in *instance) populate(t *testing.T) populated {
	t.Helper()
	in.mustIngest(flowLines(0, 300), "source=backup-flows&file=flows.ndjson")
	var b strings.Builder
	emails := map[string]string{}
	run := randomSuffix()
	for i := range 60 {
		addr := fmt.Sprintf("person%d.%s@backup.example", i, run)
		fmt.Fprintf(&b, `{"ts":"2026-11-20T10:%02d:00Z","src_ip":"192.0.2.%d","dst_ip":"198.51.100.%d","dst_port":25,"proto":"tcp","email":"%s"}`+"\n", i, 1+i, 1+i, addr)
		emails[in.personalKey(observable.KindEmailAddr, addr)] = addr
	}
	if res := in.mustIngest([]byte(b.String()), "source=backup-mail&file=mail.ndjson"); res.Accepted != 60 {
		t.Fatalf("personal records: %+v", res)
	}
	s := in.store()
	in.waitProjected(s, 2*time.Minute)
	in.assertDecrypts(t, emails, 3)
	ctx := context.Background()
	var p populated
	var err error
	if p.digest, err = s.Digest(ctx); err != nil {
		t.Fatal(err)
	}
	if p.vertices, p.edges, err = s.Counts(ctx); err != nil {
		t.Fatal(err)
	}
	p.emails = emails
	p.ends = in.topicEnds(t)
	if p.ends[in.eventsT][0]+p.ends[in.eventsT][1]+p.ends[in.eventsT][2] == 0 {
		t.Fatal("no events in the log")
	}
	return p
}

// assertDecrypts decrypts the first n e-mail vertices through the API.
func (in *instance) assertDecrypts(t *testing.T, emails map[string]string, n int) {
	t.Helper()
	var items []decryptItem
	for key := range emails {
		if len(items) == n {
			break
		}
		items = append(items, decryptItem{Record: key, Field: "value"})
	}
	code, got := in.decrypt(in.token, items...)
	if code != http.StatusOK || len(got) != len(items) {
		t.Fatalf("decrypt: %d %+v\n%s", code, got, in.allLogs())
	}
	for i, it := range got {
		if it.Outcome != "decrypted" || it.Value != emails[items[i].Record] {
			t.Fatalf("decrypt of %s: outcome %q", items[i].Record, it.Outcome)
		}
	}
}

func (in *instance) topicNames() []string {
	return []string{in.env["HEIMDALL_KAFKA_EVENTS_TOPIC"], in.env["HEIMDALL_KAFKA_REJECTS_TOPIC"], in.env["HEIMDALL_KAFKA_AUDIT_TOPIC"]}
}

func (in *instance) kafkaAdmin(t *testing.T) (*kadm.Client, func()) {
	t.Helper()
	cl, err := kafka.NewClient(in.st.Kafka(in.t, devstack.KafkaAdmin))
	if err != nil {
		t.Fatal(err)
	}
	return kadm.NewClient(cl), cl.Close
}

// topicEnds returns the end offsets of the instance's three topics.
func (in *instance) topicEnds(t *testing.T) map[string]map[int32]int64 {
	t.Helper()
	adm, done := in.kafkaAdmin(t)
	defer done()
	out := map[string]map[int32]int64{}
	for _, name := range in.topicNames() {
		listed, err := adm.ListEndOffsets(context.Background(), name)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = map[int32]int64{}
		listed.Each(func(o kadm.ListedOffset) {
			if o.Err != nil {
				t.Fatalf("end offset of %s/%d: %v", o.Topic, o.Partition, o.Err)
			}
			out[name][o.Partition] = o.Offset
		})
	}
	return out
}

func databaseName(t *testing.T, dbURL string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(u.Path, "/")
}

// adminExec runs stmt on the stack's own database as the application role.
func (in *instance) adminExec(t *testing.T, stmt string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, in.st.PostgresURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, stmt); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

// dropDatabase drops the instance's database; only the superuser may end
// an autovacuum worker busy in it, so it uses the admin URL when there is
// one and retries.
func (in *instance) dropDatabase(t *testing.T) {
	t.Helper()
	dropper := in.st.PostgresURL
	if in.st.PostgresAdminURL != "" {
		dropper = in.st.PostgresAdminURL
	}
	stmt := "DROP DATABASE " + pgx.Identifier{databaseName(t, in.dbURL)}.Sanitize() + " WITH (FORCE)"
	var err error
	for range 50 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		var conn *pgx.Conn
		if conn, err = pgx.Connect(ctx, dropper); err == nil {
			_, err = conn.Exec(ctx, stmt)
			conn.Close(ctx)
		}
		cancel()
		if err == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: %v", stmt, err)
}

// destroy is the disaster: the instance's database is dropped and its
// topics deleted (Heimdall must not be running).
func (in *instance) destroy(t *testing.T) {
	t.Helper()
	in.dropDatabase(t)
	adm, done := in.kafkaAdmin(t)
	defer done()
	ctx := context.Background()
	names := in.topicNames()
	resp, err := adm.DeleteTopics(ctx, names...)
	if err != nil {
		t.Fatal(err)
	}
	if err := resp.Error(); err != nil {
		t.Fatalf("deleting topics: %v", err)
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
			t.Fatalf("topics %v still exist a minute after their deletion", names)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func readManifest(t *testing.T, dir string) backup.Manifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, backup.ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	var m backup.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// takeBackup runs `heimdall backup` and checks the manifest against the
// end offsets the test saw.
func (in *instance) takeBackup(t *testing.T, p populated) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "backup")
	out, err := in.run(backupEnv(t), "backup", "-out", dir)
	if err != nil || !strings.Contains(out, "backup complete") {
		t.Fatalf("heimdall backup: %v\n%s", err, out)
	}
	t.Logf("heimdall backup:\n%s", out)
	m := readManifest(t, dir)
	for _, tm := range m.Kafka.Topics {
		var want int64
		for _, e := range p.ends[tm.Name] {
			want += e
		}
		if tm.Records != want || tm.Partitions != 3 || tm.Configs["retention.ms"] != "-1" {
			t.Fatalf("manifest topic %s: %d records in %d partitions (settings %v), the log had %d", tm.Name, tm.Records, tm.Partitions, tm.Configs, want)
		}
	}
	if len(m.Kafka.Topics) != 3 || m.Postgres == nil || m.Postgres.DataKeys == 0 || m.Postgres.Vertices != p.vertices || m.Postgres.Edges != p.edges {
		t.Fatalf("manifest: %d topics, postgres %+v", len(m.Kafka.Topics), m.Postgres)
	}
	if len(m.Files) != 3*3+1 {
		t.Fatalf("manifest lists %d files", len(m.Files))
	}
	return dir
}

// TestBackupRestoreDisaster is the disaster drill: a populated instance is
// backed up while it serves; its database is dropped and its topics
// deleted; `heimdall restore` onto the recreated empty database and absent
// topics brings back every record at its offset, and Heimdall started on
// the result has the same graph (digest) and still decrypts personal
// values (the data keys came back with the dump). A second restore onto
// the now used stack is refused, and a pg_dump of another major version
// is refused before anything is written.
func TestBackupRestoreDisaster(t *testing.T) {
	in := newInstance(t)
	srv := in.serve("serve", nil)
	before := in.populate(t)

	fake := t.TempDir()
	if err := os.WriteFile(filepath.Join(fake, "pg_dump"), []byte("#!/bin/sh\necho 'pg_dump (PostgreSQL) 15.4'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	refused := filepath.Join(t.TempDir(), "refused")
	out, err := in.run(map[string]string{backup.PGBinDirEnv: fake, "PATH": os.Getenv("PATH")}, "backup", "-out", refused)
	if err == nil || !strings.Contains(out, "PostgreSQL 15") || !strings.Contains(out, backup.PGBinDirEnv) {
		t.Fatalf("backup with pg_dump 15: %v\n%s", err, out)
	}
	if _, err := os.Stat(refused); !os.IsNotExist(err) {
		t.Fatal("a refused backup left its directory behind")
	}

	dir := in.takeBackup(t, before)
	srv.stop(t)
	in.destroy(t)
	in.adminExec(t, "CREATE DATABASE "+pgx.Identifier{databaseName(t, in.dbURL)}.Sanitize())

	out, err = in.run(backupEnv(t), "restore", "-in", dir)
	if err != nil || !strings.Contains(out, "restore complete") {
		t.Fatalf("heimdall restore: %v\n%s", err, out)
	}
	t.Logf("heimdall restore:\n%s", out)
	if strings.Count(out, "offsets as in the backup") != 3 {
		t.Errorf("restore output: %s", out)
	}
	after := in.topicEnds(t)
	for name, parts := range before.ends {
		for p, e := range parts {
			if after[name][p] != e {
				t.Errorf("%s/%d ends at %d after the restore, was %d", name, p, after[name][p], e)
			}
		}
	}

	in.serve("serve-restored", nil)
	s := in.store()
	in.waitProjected(s, 2*time.Minute)
	ctx := context.Background()
	d, err := s.Digest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v, e, _ := s.Counts(ctx)
	if d != before.digest || v != before.vertices || e != before.edges {
		t.Fatalf("graph after the restore: %d vertices, %d edges, digest %s; before: %d, %d, %s", v, e, d, before.vertices, before.edges, before.digest)
	}
	in.assertDecrypts(t, before.emails, len(before.emails))
	// Heimdall keeps working on the restored stack.
	in.mustIngest(flowLines(1000, 5), "source=after-restore")
	in.waitProjected(s, time.Minute)
	if v2, _, _ := s.Counts(ctx); v2 != v+10 {
		t.Fatalf("%d vertices after 5 more flows, want %d", v2, v+10)
	}

	out, err = in.run(backupEnv(t), "restore", "-in", dir)
	if err == nil || !strings.Contains(out, "refusing to restore") || !strings.Contains(out, "already holds") || !strings.Contains(out, "is not empty") {
		t.Fatalf("restore onto a used stack: %v\n%s", err, out)
	}
}

// TestRestoreLogOnlyRebuild: after the same disaster, `heimdall restore
// -skip-postgres` brings back the log alone into a fresh database; it says
// to rebuild and that the data keys are not restored. `heimdall
// projections rebuild` then derives the same graph (digest) from the log,
// while encrypted values stay unreadable: new data keys cannot open them.
func TestRestoreLogOnlyRebuild(t *testing.T) {
	in := newInstance(t)
	srv := in.serve("serve", nil)
	before := in.populate(t)
	dir := in.takeBackup(t, before)
	srv.stop(t)
	in.destroy(t)

	in.dbURL = freshDatabase(t, in.st)
	in.env["HEIMDALL_POSTGRES_URL"] = in.dbURL
	out, err := in.run(backupEnv(t), "restore", "-in", dir, "-skip-postgres")
	if err != nil || !strings.Contains(out, "restore complete") || !strings.Contains(out, "heimdall projections rebuild") || !strings.Contains(out, "heimdall_keys") {
		t.Fatalf("heimdall restore -skip-postgres: %v\n%s", err, out)
	}
	t.Logf("heimdall restore -skip-postgres:\n%s", out)
	out, err = in.run(nil, "projections", "rebuild", "-quiet")
	if err != nil || !strings.Contains(out, "active") {
		t.Fatalf("heimdall projections rebuild: %v\n%s", err, out)
	}
	s := in.store()
	ctx := context.Background()
	d, err := s.Digest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v, e, _ := s.Counts(ctx)
	if d != before.digest || v != before.vertices || e != before.edges {
		t.Fatalf("rebuilt graph: %d vertices, %d edges, digest %s; before: %d, %d, %s", v, e, d, before.vertices, before.edges, before.digest)
	}

	// The data keys were not restored: the sealed values are there, but no
	// key opens them.
	in.serve("serve-rebuilt", nil)
	in.waitProjected(s, time.Minute)
	for key := range before.emails {
		code, got := in.decrypt(in.token, decryptItem{Record: key, Field: "value"})
		if code != http.StatusOK || len(got) != 1 || got[0].Outcome == "decrypted" || got[0].Value == before.emails[key] {
			t.Fatalf("decrypt without the data keys: %d %+v", code, got)
		}
		break
	}
}
