package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/heimdallhub/heimdall/internal/backup"
	"github.com/heimdallhub/heimdall/internal/config"
	"github.com/heimdallhub/heimdall/internal/kafka"
	"github.com/heimdallhub/heimdall/internal/tlsconf"
)

// backupSetup is what backup and restore share: the topics by role, the
// Kafka client and the database settings.
type backupSetup struct {
	cfg    config.Config
	kafka  kafka.Config
	topics []backup.Topic
	pg     struct {
		url, caFile, binDir string
	}
}

func loadBackupSetup(lookup env, name string) (*backupSetup, error) {
	cfg, err := loadConfig(lookup, []string{config.ComponentProjector})
	if err != nil {
		return nil, err
	}
	clientTLS, err := tlsconf.Client(cfg.TLS.CAFile)
	if err != nil {
		return nil, err
	}
	s := &backupSetup{cfg: cfg}
	if s.kafka, err = kafkaConfig(cfg.Kafka.Brokers, cfg.Kafka.Auth, clientTLS, "heimdall-"+name+"-"+cfg.PeerID, nil); err != nil {
		return nil, err
	}
	s.topics = []backup.Topic{
		{Role: backup.RoleEvents, Name: cfg.Kafka.EventsTopic},
		{Role: backup.RoleRejects, Name: cfg.Kafka.RejectsTopic},
		{Role: backup.RoleAudit, Name: cfg.Kafka.AuditTopic},
	}
	s.pg.url, s.pg.caFile = cfg.Postgres.URL, cfg.TLS.CAFile
	s.pg.binDir, _ = lookup(backup.PGBinDirEnv)
	return s, nil
}

// runBackup writes the event log's topics and a pg_dump of the database
// into a new directory, with a manifest.
func runBackup(ctx context.Context, args []string, stdout, stderr io.Writer, lookup env) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "directory to write the backup into (new or empty)")
	skipPG := fs.Bool("skip-postgres", false, "back up the Kafka topics only, no database dump")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *out == "" || fs.NArg() > 0 {
		return fmt.Errorf("%w: heimdall backup -out DIR [-skip-postgres]", errUsage)
	}
	s, err := loadBackupSetup(lookup, "backup")
	if err != nil {
		return err
	}
	m, err := backup.Backup(ctx, backup.Options{
		Dir: *out, Kafka: s.kafka, Topics: s.topics,
		PostgresURL: s.pg.url, CAFile: s.pg.caFile, PostgresTLS: s.kafka.TLS, PGBinDir: s.pg.binDir,
		SkipPostgres: *skipPG, HeimdallVersion: version, Out: stdout,
	})
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	fmt.Fprintf(stdout, "backup complete in %s (%s)\n", *out, m.CompletedAt.Sub(m.StartedAt).Round(1e6))
	for _, t := range m.Kafka.Topics {
		fmt.Fprintf(stdout, "  %-8s %s: %d partitions, %d records\n", t.Role, t.Name, t.Partitions, t.Records)
	}
	if m.Postgres != nil {
		fmt.Fprintf(stdout, "  postgres %s: %s, graphs [%s], %d data keys\n", m.Postgres.Database, m.Postgres.File,
			strings.Join(m.Postgres.Graphs, " "), m.Postgres.DataKeys)
	} else {
		fmt.Fprintln(stdout, "  postgres: skipped; the data keys (schema heimdall_keys) are NOT in this backup: back them up separately, or encrypted values become unreadable after a restore")
	}
	fmt.Fprintf(stdout, "  %s lists every file with its SHA-256\n", backup.ManifestFile)
	return nil
}

// runRestore puts a backup onto an empty stack.
func runRestore(ctx context.Context, args []string, stdout, stderr io.Writer, lookup env) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	in := fs.String("in", "", "backup directory (written by heimdall backup)")
	skipPG := fs.Bool("skip-postgres", false, "restore the Kafka topics only; rebuild the projections after")
	force := fs.Bool("force", false, "skip the checks that the topics and the database are empty (records are appended to what a topic holds; pg_restore still fails on objects that exist)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *in == "" || fs.NArg() > 0 {
		return fmt.Errorf("%w: heimdall restore -in DIR [-skip-postgres] [-force]", errUsage)
	}
	s, err := loadBackupSetup(lookup, "restore")
	if err != nil {
		return err
	}
	res, err := backup.Restore(ctx, backup.RestoreOptions{
		Dir: *in, Kafka: s.kafka, Topics: s.topics, ReplicationFactor: s.cfg.Kafka.ReplicationFactor, ConfiguredPartitions: s.cfg.Kafka.Partitions,
		PostgresURL: s.pg.url, CAFile: s.pg.caFile, PostgresTLS: s.kafka.TLS, PGBinDir: s.pg.binDir,
		SkipPostgres: *skipPG, Force: *force, Out: stdout,
	})
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	fmt.Fprintln(stdout, "restore complete")
	for _, t := range res.Topics {
		offsets := "offsets as in the backup"
		if !t.SameOffsets {
			offsets = "new offsets"
		}
		fmt.Fprintf(stdout, "  %-8s %s: %d records (%s)\n", t.Role, t.Name, t.Records, offsets)
	}
	if res.Postgres {
		fmt.Fprintf(stdout, "  postgres %s restored: graphs [%s], %d data keys; start Heimdall: the projectors catch up from the dumped offsets\n",
			res.Manifest.Postgres.Database, strings.Join(res.Manifest.Postgres.Graphs, " "), res.Manifest.Postgres.DataKeys)
		return nil
	}
	fmt.Fprintln(stdout, "  postgres: not restored (-skip-postgres). Next:")
	fmt.Fprintln(stdout, "    heimdall projections rebuild graph   # and `... rebuild audit`: the read models from the log (enrichment state follows the log when Heimdall runs)")
	fmt.Fprintln(stdout, "  The data keys (schema heimdall_keys) cannot be rebuilt from the log: restore them from a database backup,")
	fmt.Fprintln(stdout, "  with the same HEIMDALL_MASTER_KEY, or encrypted values stay unreadable.")
	return nil
}
