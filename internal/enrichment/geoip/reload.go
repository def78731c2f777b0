package geoip

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/oschwald/maxminddb-golang/v2"
)

// database is one loaded file. Its reader reads a private copy of the
// file's bytes, so it is never closed: a lookup in flight during a reload
// keeps working on it, and the garbage collector frees it afterwards.
type database struct {
	reader *maxminddb.Reader
	stat   os.FileInfo // of the file the bytes were read from
	info   DatabaseInfo
}

// snapshot is the set of databases served together.
type snapshot struct {
	dbs     []*database
	version string
}

func newSnapshot(dbs []*database) *snapshot {
	vs := make([]string, len(dbs))
	for i, db := range dbs {
		vs[i] = db.info.Version()
	}
	return &snapshot{dbs: dbs, version: strings.Join(vs, ",")}
}

// fileState is what the poller knows about one configured file.
type fileState struct {
	loaded    os.FileInfo // the file the served database came from
	failed    os.FileInfo // the file as it was when it last failed to load
	failedErr error
	missing   bool // the last check could not stat the file
}

// errChanged says the file changed while it was read (a writer at work);
// the next check tries again.
var errChanged = errors.New("the file changed while it was being read")

// sameFile reports whether a and b describe the same, unchanged file.
func sameFile(a, b os.FileInfo) bool {
	return a != nil && b != nil && os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// load reads path into memory, opens it and verifies it completely.
func load(path string) (*database, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	before, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !before.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	buf := make([]byte, before.Size())
	if _, err := io.ReadFull(f, buf); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: %w", path, errChanged)
		}
		return nil, err
	}
	after, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !sameFile(before, after) {
		return nil, fmt.Errorf("%s: %w", path, errChanged)
	}
	r, err := maxminddb.OpenBytes(buf)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	if err := r.Verify(); err != nil {
		return nil, fmt.Errorf("verifying %s: %w", path, err)
	}
	md := r.Metadata
	typ := md.DatabaseType
	if typ == "" {
		typ = "unknown"
	}
	return &database{reader: r, stat: before, info: DatabaseInfo{
		Path:       path,
		Type:       typ,
		BuildEpoch: int64(md.BuildEpoch),
		Build:      md.BuildTime().UTC(),
		IPVersion:  int(md.IPVersion),
		Size:       before.Size(),
		ModTime:    before.ModTime(),
		LoadedAt:   time.Now(),
	}}, nil
}

// Reload checks every file now and loads those that changed (and, unlike
// the poller, retries those whose last load failed even if unchanged). It
// returns the problems found; the databases that failed keep serving their
// previous version.
func (p *Provider) Reload() error { return p.check(true) }

func (p *Provider) poll() {
	defer close(p.done)
	t := time.NewTicker(p.every)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			_ = p.check(false)
		}
	}
}

// check stats every file and swaps changed ones in. force retries files
// whose last load failed although they have not changed since.
func (p *Provider) check(force bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.cur.Load()
	if s == nil {
		return errors.New("geoip: the provider is closed")
	}
	var next []*database
	var errs []error
	for i, path := range p.paths {
		fs := &p.files[i]
		st, err := os.Stat(path)
		if err != nil {
			if !fs.missing {
				p.log.Warn("geoip: database file unavailable; the loaded version keeps serving", "path", path, "error", err)
			}
			fs.missing = true
			errs = append(errs, fmt.Errorf("geoip: %w", err))
			continue
		}
		fs.missing = false
		if sameFile(st, fs.loaded) {
			fs.failed, fs.failedErr = nil, nil
			continue
		}
		if !force && sameFile(st, fs.failed) {
			errs = append(errs, fs.failedErr)
			continue
		}
		db, err := load(path)
		if err != nil {
			err = fmt.Errorf("geoip: %w", err)
			if errors.Is(err, errChanged) {
				p.log.Debug("geoip: database file changed while being read; trying again later", "path", path)
				errs = append(errs, err)
				continue
			}
			if !sameFile(st, fs.failed) {
				p.log.Error("geoip: reloading a database failed; the loaded version keeps serving", "path", path, "error", err)
			}
			fs.failed, fs.failedErr = st, err
			errs = append(errs, err)
			continue
		}
		fs.loaded, fs.failed, fs.failedErr = db.stat, nil, nil
		if next == nil {
			next = slices.Clone(s.dbs)
		}
		old := next[i].info
		next[i] = db
		p.log.Info("geoip: database reloaded", "path", path, "type", db.info.Type,
			"build_epoch", db.info.BuildEpoch, "previous_build_epoch", old.BuildEpoch)
	}
	if next != nil {
		p.cur.Store(newSnapshot(next))
	}
	return errors.Join(errs...)
}
