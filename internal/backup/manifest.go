package backup

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Format names the layout this package writes.
const Format = "heimdall-backup/1"

// ManifestFile is the manifest's name in a backup directory.
const ManifestFile = "manifest.json"

// DumpFile is the pg_dump archive's name in a backup directory.
const DumpFile = "postgres.dump"

// Manifest describes a backup.
type Manifest struct {
	Format          string            `json:"format"`
	HeimdallVersion string            `json:"heimdall_version"`
	StartedAt       time.Time         `json:"started_at"`
	CompletedAt     time.Time         `json:"completed_at"`
	Kafka           KafkaManifest     `json:"kafka"`
	Postgres        *PostgresManifest `json:"postgres,omitempty"`
	// Files maps each file's path (relative, slash-separated) to its size
	// and SHA-256.
	Files map[string]FileManifest `json:"files"`
}

// FileManifest is a file's size and SHA-256 (hex).
type FileManifest struct {
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// KafkaManifest describes the backed-up topics.
type KafkaManifest struct {
	Topics []TopicManifest `json:"topics"`
}

// TopicManifest describes one topic.
type TopicManifest struct {
	// Role is events, rejects or audit.
	Role              string `json:"role"`
	Name              string `json:"name"`
	Partitions        int32  `json:"partitions"`
	ReplicationFactor int16  `json:"replication_factor"`
	// Configs are the settings set on the topic itself (not broker
	// defaults).
	Configs          map[string]string   `json:"configs"`
	Records          int64               `json:"records"`
	PartitionDetails []PartitionManifest `json:"partition_details"`
}

// PartitionManifest describes one partition's file.
type PartitionManifest struct {
	Partition int32 `json:"partition"`
	// StartOffset is the log start offset when the backup read it.
	StartOffset int64 `json:"start_offset"`
	// EndOffset is the offset the backup read up to (exclusive).
	EndOffset int64 `json:"end_offset"`
	Records   int64 `json:"records"`
	// FirstOffset and LastOffset are those of the first and last record
	// (-1 without records).
	FirstOffset int64 `json:"first_offset"`
	LastOffset  int64 `json:"last_offset"`
	// Contiguous: the records' offsets are exactly 0..EndOffset-1, so a
	// restore into an empty topic gives every record its original offset.
	Contiguous bool   `json:"contiguous"`
	File       string `json:"file"`
}

// PostgresManifest describes the database dump.
type PostgresManifest struct {
	File             string `json:"file"`
	Database         string `json:"database"`
	ServerVersion    string `json:"server_version"`
	ServerVersionNum int    `json:"server_version_num"`
	PgDumpVersion    string `json:"pg_dump_version"`
	// Extensions maps each installed extension to its version.
	Extensions map[string]string `json:"extensions"`
	// Schemas are the database's own schemas (not the system's).
	Schemas []string `json:"schemas"`
	// Graphs are the AGE graphs (ag_catalog.ag_graph) and Labels the number
	// of ag_catalog.ag_label rows.
	Graphs []string `json:"graphs"`
	Labels int64    `json:"labels"`
	// ActiveGraph is the graph readers used, with its vertex and edge counts.
	ActiveGraph string `json:"active_graph,omitempty"`
	Vertices    int64  `json:"vertices"`
	Edges       int64  `json:"edges"`
	// DataKeys is the number of wrapped data keys (heimdall_keys.data_keys).
	DataKeys int64 `json:"data_keys"`
}

// Topic returns the manifest of the topic with role.
func (m *Manifest) Topic(role string) (TopicManifest, bool) {
	for _, t := range m.Kafka.Topics {
		if t.Role == role {
			return t, true
		}
	}
	return TopicManifest{}, false
}

// WriteManifest writes m to dir atomically (a temporary file renamed).
func WriteManifest(dir string, m *Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the manifest: %w", err)
	}
	tmp := filepath.Join(dir, "."+ManifestFile+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("writing the manifest: %w", err)
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, ManifestFile))
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("writing the manifest: %w", err)
	}
	syncDir(dir)
	return nil
}

// ReadManifest reads and checks the manifest of the backup in dir.
func ReadManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s has no %s: not a backup, or an unfinished one", dir, ManifestFile)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", ManifestFile, err)
	}
	if m.Format != Format {
		return nil, fmt.Errorf("%s: format %q, this Heimdall reads %q", ManifestFile, m.Format, Format)
	}
	if err := m.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", ManifestFile, err)
	}
	return &m, nil
}

// check verifies the manifest's own consistency: every file it names is
// listed with a sum, counts add up, paths stay inside the backup.
func (m *Manifest) check() error {
	var errs []error
	for p := range m.Files {
		if !localPath(p) {
			errs = append(errs, fmt.Errorf("file %q is not a path inside the backup", p))
		}
	}
	need := func(p string) {
		if _, ok := m.Files[p]; !ok {
			errs = append(errs, fmt.Errorf("file %q has no size and sum", p))
		}
	}
	roles := map[string]bool{}
	for _, t := range m.Kafka.Topics {
		if roles[t.Role] {
			errs = append(errs, fmt.Errorf("topic role %q appears twice", t.Role))
		}
		roles[t.Role] = true
		if int(t.Partitions) != len(t.PartitionDetails) {
			errs = append(errs, fmt.Errorf("topic %s: %d partitions but %d partition entries", t.Name, t.Partitions, len(t.PartitionDetails)))
		}
		var sum int64
		for i, p := range t.PartitionDetails {
			if p.Partition != int32(i) {
				errs = append(errs, fmt.Errorf("topic %s: partition entry %d is for partition %d", t.Name, i, p.Partition))
			}
			need(p.File)
			sum += p.Records
		}
		if sum != t.Records {
			errs = append(errs, fmt.Errorf("topic %s: %d records, partitions add up to %d", t.Name, t.Records, sum))
		}
	}
	if m.Postgres != nil {
		need(m.Postgres.File)
	}
	return errors.Join(errs...)
}

func localPath(p string) bool {
	return p != "" && filepath.IsLocal(filepath.FromSlash(p)) && !strings.Contains(p, "\\")
}

// VerifyFiles checks the size and SHA-256 of every file the manifest lists.
func VerifyFiles(dir string, m *Manifest) error {
	paths := make([]string, 0, len(m.Files))
	for p := range m.Files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var errs []error
	for _, p := range paths {
		want := m.Files[p]
		got, err := hashFile(filepath.Join(dir, filepath.FromSlash(p)))
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
		case got.Bytes != want.Bytes:
			errs = append(errs, fmt.Errorf("%s: %d bytes, the manifest says %d", p, got.Bytes, want.Bytes))
		case got.SHA256 != want.SHA256:
			errs = append(errs, fmt.Errorf("%s: SHA-256 %s, the manifest says %s", p, got.SHA256, want.SHA256))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("the backup does not match its manifest:\n%w", errors.Join(errs...))
	}
	return nil
}

// syncDir flushes a directory's entries (best effort).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
