package backup

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/heimdallhub/heimdall/internal/kafka"
)

// Options configure Backup.
type Options struct {
	// Dir is the backup directory: created, or empty.
	Dir string
	// Kafka reaches the cluster; Topics are the topics to back up.
	Kafka  kafka.Config
	Topics []Topic
	// PostgresURL is HEIMDALL_POSTGRES_URL; CAFile its CA bundle
	// (HEIMDALL_CA_FILE) and PostgresTLS the client TLS configuration.
	PostgresURL string
	CAFile      string
	PostgresTLS *tls.Config
	// PGBinDir holds pg_dump of the server's major version (empty: PATH).
	PGBinDir string
	// SkipPostgres leaves the database out.
	SkipPostgres bool
	// HeimdallVersion is recorded in the manifest.
	HeimdallVersion string
	// Out receives progress lines (nil: none).
	Out io.Writer
}

func (o Options) pg() pgTarget {
	return pgTarget{URL: o.PostgresURL, CAFile: o.CAFile, TLS: o.PostgresTLS, BinDir: o.PGBinDir}
}

// Backup writes a backup of the topics and the database into o.Dir: first
// the dump (from an exported snapshot), then every record of each topic up
// to the end offsets read after the dump, then the manifest. On failure it
// removes what it wrote.
func Backup(ctx context.Context, o Options) (_ *Manifest, err error) {
	out := o.Out
	if out == nil {
		out = io.Discard
	}
	if len(o.Topics) == 0 {
		return nil, errors.New("backup: no topics")
	}
	created, err := prepareDir(o.Dir)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err == nil {
			return
		}
		if created {
			os.RemoveAll(o.Dir)
		} else {
			os.RemoveAll(filepath.Join(o.Dir, "kafka"))
			os.Remove(filepath.Join(o.Dir, DumpFile))
		}
	}()
	m := &Manifest{Format: Format, HeimdallVersion: o.HeimdallVersion, StartedAt: time.Now().UTC(), Files: map[string]FileManifest{}}

	admin, err := kafka.NewClient(o.Kafka)
	if err != nil {
		return nil, err
	}
	defer admin.Close()
	adm := kadm.NewClient(admin)
	// The topics must exist before the (long) dump starts.
	for _, t := range o.Topics {
		l, err := describeTopic(ctx, adm, t.Name)
		if err != nil {
			return nil, err
		}
		if !l.exists {
			return nil, fmt.Errorf("topic %s (%s) does not exist", t.Name, t.Role)
		}
	}

	var dumpedKeys []string
	if !o.SkipPostgres {
		fmt.Fprintln(out, "dumping the database (pg_dump --format=custom)")
		pm, keys, sum, err := dumpPostgres(ctx, o.pg(), o.Dir)
		if err != nil {
			return nil, err
		}
		m.Postgres, dumpedKeys = pm, keys
		m.Files[pm.File] = FileManifest(sum)
		fmt.Fprintf(out, "  %s: PostgreSQL %s, graphs %s, %d data keys, %s\n", pm.Database, pm.ServerVersion,
			strings.Join(pm.Graphs, " "), pm.DataKeys, humanBytes(sum.Bytes))
	}

	// The end offsets, read after the snapshot: every offset a projection
	// stored in the dump is at or below them.
	layouts := make([]topicLayout, len(o.Topics))
	for i, t := range o.Topics {
		if layouts[i], err = describeTopic(ctx, adm, t.Name); err != nil {
			return nil, err
		}
		if !layouts[i].exists {
			return nil, fmt.Errorf("topic %s (%s) vanished during the backup", t.Name, t.Role)
		}
	}
	if !o.SkipPostgres {
		added, err := newDataKeys(ctx, o.pg(), dumpedKeys)
		if err != nil {
			return nil, err
		}
		if len(added) > 0 {
			return nil, fmt.Errorf("%d data keys were created while the database was dumped; the log may hold values only they open: run the backup again", len(added))
		}
	}
	for i, t := range o.Topics {
		fmt.Fprintf(out, "reading topic %s (%s): %d partitions, %d records\n", t.Name, t.Role, layouts[i].partitions, layouts[i].records())
		tm, sums, err := exportTopic(ctx, o.Kafka, t, layouts[i], o.Dir)
		if err != nil {
			return nil, fmt.Errorf("backing up topic %s: %w", t.Name, err)
		}
		m.Kafka.Topics = append(m.Kafka.Topics, tm)
		for p, s := range sums {
			m.Files[p] = FileManifest(s)
		}
	}
	m.CompletedAt = time.Now().UTC()
	if err := m.check(); err != nil {
		return nil, fmt.Errorf("the manifest just built is inconsistent: %w", err)
	}
	if err := WriteManifest(o.Dir, m); err != nil {
		return nil, err
	}
	return m, nil
}

// prepareDir creates dir or accepts an empty one; it reports whether it
// created it.
func prepareDir(dir string) (bool, error) {
	if dir == "" {
		return false, errors.New("backup: no directory")
	}
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return false, fmt.Errorf("creating the backup directory: %w", err)
		}
		return true, nil
	case err != nil:
		return false, fmt.Errorf("reading the backup directory: %w", err)
	case len(entries) > 0:
		return false, fmt.Errorf("%s is not empty: a backup goes into a new or empty directory", dir)
	}
	return false, nil
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
