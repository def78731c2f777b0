package backup

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/heimdallhub/heimdall/internal/graphstore"
)

// pgTarget is how to reach the database and its client programs.
type pgTarget struct {
	URL    string
	CAFile string
	TLS    *tls.Config
	BinDir string
}

func (t pgTarget) connect(ctx context.Context) (*pgx.Conn, error) {
	pc, err := graphstore.PoolConfig(t.URL, graphstore.WithTLSConfig(t.TLS))
	if err != nil {
		return nil, err
	}
	conn, err := pgx.ConnectConfig(ctx, pc.ConnConfig)
	if err != nil {
		return nil, fmt.Errorf("connecting to postgres: %w", err)
	}
	return conn, nil
}

// serverInfo is the server's version and the database's name.
type serverInfo struct {
	version  string
	num      int
	major    int
	database string
}

func readServer(ctx context.Context, conn *pgx.Conn) (serverInfo, error) {
	var s serverInfo
	if err := conn.QueryRow(ctx, `SELECT current_setting('server_version'), current_setting('server_version_num')::int, current_database()`).
		Scan(&s.version, &s.num, &s.database); err != nil {
		return s, fmt.Errorf("reading the server version: %w", err)
	}
	s.major = s.num / 10000
	return s, nil
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// dbState is what a database holds, as far as a backup or restore cares.
type dbState struct {
	extensions      map[string]string
	schemas         []string // not the system's, not an extension's, not public
	publicRelations int64
	graphs          []string
	labels          int64
	activeGraph     string
	vertices, edges int64
	dataKeys        []string
}

func (s dbState) empty() bool {
	return len(s.schemas) == 0 && s.publicRelations == 0 && len(s.graphs) == 0
}

func (s dbState) describe() string {
	var parts []string
	if len(s.schemas) > 0 {
		parts = append(parts, "schemas "+strings.Join(s.schemas, ", "))
	}
	if s.publicRelations > 0 {
		parts = append(parts, fmt.Sprintf("%d relations in schema public", s.publicRelations))
	}
	if len(s.graphs) > 0 {
		parts = append(parts, "AGE graphs "+strings.Join(s.graphs, ", "))
	}
	return strings.Join(parts, "; ")
}

func queryStrings(ctx context.Context, q querier, sql string, args ...any) ([]string, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func relationExists(ctx context.Context, q querier, relation string) (bool, error) {
	var ok bool
	err := q.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, relation).Scan(&ok)
	return ok, err
}

func readState(ctx context.Context, q querier) (dbState, error) {
	s := dbState{extensions: map[string]string{}}
	rows, err := q.Query(ctx, `SELECT extname::text, extversion FROM pg_catalog.pg_extension`)
	if err != nil {
		return s, fmt.Errorf("listing extensions: %w", err)
	}
	var name, version string
	if _, err := pgx.ForEachRow(rows, []any{&name, &version}, func() error { s.extensions[name] = version; return nil }); err != nil {
		return s, fmt.Errorf("listing extensions: %w", err)
	}
	const notExtension = `NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = %s::regclass AND d.objid = %s AND d.deptype = 'e')`
	s.schemas, err = queryStrings(ctx, q, `SELECT n.nspname::text FROM pg_catalog.pg_namespace n
		WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast', 'public', 'ag_catalog')
		  AND n.nspname NOT LIKE 'pg\_temp\_%' AND n.nspname NOT LIKE 'pg\_toast\_temp\_%'
		  AND `+fmt.Sprintf(notExtension, `'pg_catalog.pg_namespace'`, `n.oid`)+`
		ORDER BY 1`)
	if err != nil {
		return s, fmt.Errorf("listing schemas: %w", err)
	}
	if err := q.QueryRow(ctx, `SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
		  AND `+fmt.Sprintf(notExtension, `'pg_catalog.pg_class'`, `c.oid`)).Scan(&s.publicRelations); err != nil {
		return s, fmt.Errorf("listing relations in schema public: %w", err)
	}
	if ok, err := relationExists(ctx, q, "ag_catalog.ag_graph"); err != nil {
		return s, fmt.Errorf("looking for AGE's catalog: %w", err)
	} else if ok {
		if s.graphs, err = queryStrings(ctx, q, `SELECT name::text FROM ag_catalog.ag_graph ORDER BY 1`); err != nil {
			return s, fmt.Errorf("listing AGE graphs: %w", err)
		}
		if err := q.QueryRow(ctx, `SELECT count(*) FROM ag_catalog.ag_label`).Scan(&s.labels); err != nil {
			return s, fmt.Errorf("counting AGE labels: %w", err)
		}
	}
	if ok, err := relationExists(ctx, q, "heimdall.generations"); err != nil {
		return s, fmt.Errorf("looking for graph generations: %w", err)
	} else if ok {
		active, err := queryStrings(ctx, q, `SELECT graph_name FROM heimdall.generations WHERE state = 'active'`)
		if err != nil {
			return s, fmt.Errorf("reading the active generation: %w", err)
		}
		if len(active) == 1 && slices.Contains(s.graphs, active[0]) {
			s.activeGraph = active[0]
			g := pgx.Identifier{s.activeGraph}.Sanitize()
			if err := q.QueryRow(ctx, `SELECT (SELECT count(*) FROM `+g+`._ag_label_vertex), (SELECT count(*) FROM `+g+`._ag_label_edge)`).
				Scan(&s.vertices, &s.edges); err != nil {
				return s, fmt.Errorf("counting the active graph: %w", err)
			}
		}
	}
	if ok, err := relationExists(ctx, q, "heimdall_keys.data_keys"); err != nil {
		return s, fmt.Errorf("looking for data keys: %w", err)
	} else if ok {
		if s.dataKeys, err = queryStrings(ctx, q, `SELECT id FROM heimdall_keys.data_keys ORDER BY id`); err != nil {
			return s, fmt.Errorf("listing data keys: %w", err)
		}
	}
	return s, nil
}

// dumpPostgres dumps the database into dir/postgres.dump from a snapshot it
// exports first, and describes what the snapshot held.
func dumpPostgres(ctx context.Context, t pgTarget, dir string) (*PostgresManifest, []string, fileSum, error) {
	conn, err := t.connect(ctx)
	if err != nil {
		return nil, nil, fileSum{}, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	srv, err := readServer(ctx, conn)
	if err != nil {
		return nil, nil, fileSum{}, err
	}
	tool, err := findTool(ctx, t.BinDir, "pg_dump")
	if err != nil {
		return nil, nil, fileSum{}, err
	}
	if err := tool.requireMajor(srv.major, srv.version); err != nil {
		return nil, nil, fileSum{}, err
	}
	lc, err := newLibpqConn(t.URL, t.CAFile, "heimdall-backup")
	if err != nil {
		return nil, nil, fileSum{}, err
	}
	defer lc.Close()
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, nil, fileSum{}, fmt.Errorf("starting the snapshot transaction: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read-only
	var snapshot string
	if err := tx.QueryRow(ctx, `SELECT pg_export_snapshot()`).Scan(&snapshot); err != nil {
		return nil, nil, fileSum{}, fmt.Errorf("exporting a snapshot: %w", err)
	}
	st, err := readState(ctx, tx)
	if err != nil {
		return nil, nil, fileSum{}, err
	}
	file := filepath.Join(dir, DumpFile)
	if _, err := lc.run(ctx, tool, "--format=custom", "--file="+file, "--snapshot="+snapshot, "--no-password", "--dbname="+lc.url); err != nil {
		return nil, nil, fileSum{}, fmt.Errorf("dumping database %s: %w", srv.database, err)
	}
	if err := os.Chmod(file, 0o600); err != nil {
		return nil, nil, fileSum{}, fmt.Errorf("restricting the dump's permissions: %w", err)
	}
	sum, err := hashFile(file)
	if err != nil {
		return nil, nil, fileSum{}, err
	}
	if st.graphs == nil {
		st.graphs = []string{}
	}
	if st.schemas == nil {
		st.schemas = []string{}
	}
	pm := &PostgresManifest{
		File: DumpFile, Database: srv.database, ServerVersion: srv.version, ServerVersionNum: srv.num, PgDumpVersion: tool.version,
		Extensions: st.extensions, Schemas: st.schemas, Graphs: st.graphs, Labels: st.labels,
		ActiveGraph: st.activeGraph, Vertices: st.vertices, Edges: st.edges, DataKeys: int64(len(st.dataKeys)),
	}
	return pm, st.dataKeys, sum, nil
}

// newDataKeys returns the data keys the database holds now that are not in
// dumped.
func newDataKeys(ctx context.Context, t pgTarget, dumped []string) ([]string, error) {
	conn, err := t.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	ok, err := relationExists(ctx, conn, "heimdall_keys.data_keys")
	if err != nil || !ok {
		return nil, err
	}
	now, err := queryStrings(ctx, conn, `SELECT id FROM heimdall_keys.data_keys ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("listing data keys: %w", err)
	}
	var added []string
	for _, id := range now {
		if !slices.Contains(dumped, id) {
			added = append(added, id)
		}
	}
	return added, nil
}

// pgPlan is a checked restore target.
type pgPlan struct {
	srv  serverInfo
	tool pgTool
}

// checkPostgresTarget refuses a target the dump cannot go into: pg_restore
// of another major version than the server, a database that is not empty
// (unless force), missing extensions or another AGE version, no right to
// write AGE's catalog.
func checkPostgresTarget(ctx context.Context, t pgTarget, m *PostgresManifest, force bool) (pgPlan, error) {
	conn, err := t.connect(ctx)
	if err != nil {
		return pgPlan{}, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	srv, err := readServer(ctx, conn)
	if err != nil {
		return pgPlan{}, err
	}
	tool, err := findTool(ctx, t.BinDir, "pg_restore")
	if err != nil {
		return pgPlan{}, err
	}
	var errs []error
	if err := tool.requireMajor(srv.major, srv.version); err != nil {
		errs = append(errs, err)
	}
	if dumpMajor, err := parseToolVersion(m.PgDumpVersion); err == nil && dumpMajor > tool.major {
		errs = append(errs, fmt.Errorf("the dump was made by PostgreSQL %d's pg_dump, newer than this pg_restore (%d)", dumpMajor, tool.major))
	}
	st, err := readState(ctx, conn)
	if err != nil {
		return pgPlan{}, err
	}
	if !st.empty() && !force {
		errs = append(errs, fmt.Errorf("database %s is not empty (%s): a restore needs an empty database", srv.database, st.describe()))
	}
	var missing []string
	for _, ext := range sortedKeys(m.Extensions) {
		if ext == "plpgsql" {
			continue
		}
		have, ok := st.extensions[ext]
		switch {
		case !ok:
			missing = append(missing, ext)
		case ext == "age" && have != m.Extensions[ext]:
			errs = append(errs, fmt.Errorf("database %s has AGE %s, the dump AGE %s: its catalog must come back into the same version", srv.database, have, m.Extensions[ext]))
		}
	}
	if len(missing) > 0 {
		errs = append(errs, fmt.Errorf("database %s lacks the extensions %s: an administrator must create them first (the development stack installs age and vector in template1, so a database created from it has them)",
			srv.database, strings.Join(missing, ", ")))
	}
	if _, ok := st.extensions["age"]; ok {
		var can bool
		if err := conn.QueryRow(ctx, `SELECT has_table_privilege('ag_catalog.ag_graph', 'INSERT, UPDATE') AND has_table_privilege('ag_catalog.ag_label', 'INSERT, UPDATE')`).Scan(&can); err != nil {
			return pgPlan{}, fmt.Errorf("checking privileges on AGE's catalog: %w", err)
		}
		if !can {
			errs = append(errs, fmt.Errorf("the role of HEIMDALL_POSTGRES_URL may not write ag_catalog.ag_graph and ag_label in database %s (an administrator grants INSERT, UPDATE on them)", srv.database))
		}
	}
	return pgPlan{srv: srv, tool: tool}, errors.Join(errs...)
}

var tocLine = regexp.MustCompile(`^\d+; \d+ \d+ (.*)$`)

// skippedTOC are the archive entries a restore leaves out: the extensions
// and what they own (created by an administrator in the target; the
// application role could not create or comment on them), and ACLs of
// AGE's catalog (owned by the superuser). AGE's catalog tables' data stays.
var skippedTOC = []string{
	"EXTENSION -",
	"COMMENT - EXTENSION",
	"SCHEMA - ag_catalog",
	"COMMENT - SCHEMA ag_catalog",
	"ACL - SCHEMA ag_catalog",
	"ACL ag_catalog",
}

// filterTOC drops the skipped entries from a pg_restore --list.
func filterTOC(list []byte) ([]byte, []string) {
	var kept strings.Builder
	var skipped []string
	for _, line := range strings.Split(string(list), "\n") {
		if m := tocLine.FindStringSubmatch(line); m != nil {
			rest := m[1]
			drop := false
			for _, p := range skippedTOC {
				if rest == p || strings.HasPrefix(rest, p+" ") {
					drop = true
					break
				}
			}
			if drop {
				skipped = append(skipped, rest)
				continue
			}
		}
		kept.WriteString(line)
		kept.WriteByte('\n')
	}
	return []byte(kept.String()), skipped
}

// restorePostgres runs pg_restore of the dump in one transaction, then
// repairs and checks AGE's catalog and the counts against the manifest.
func restorePostgres(ctx context.Context, t pgTarget, plan pgPlan, dir string, m *PostgresManifest, out io.Writer) error {
	lc, err := newLibpqConn(t.URL, t.CAFile, "heimdall-restore")
	if err != nil {
		return err
	}
	defer lc.Close()
	dump := filepath.Join(dir, filepath.FromSlash(m.File))
	list, err := lc.run(ctx, plan.tool, "--list", dump)
	if err != nil {
		return fmt.Errorf("reading the dump's table of contents: %w", err)
	}
	kept, skipped := filterTOC(list)
	tmp, err := os.MkdirTemp("", "heimdall-restore-")
	if err != nil {
		return fmt.Errorf("creating a temporary directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	listFile := filepath.Join(tmp, "toc.list")
	if err := os.WriteFile(listFile, kept, 0o600); err != nil {
		return fmt.Errorf("writing the restore list: %w", err)
	}
	fmt.Fprintf(out, "  pg_restore into %s (leaving out %d archive entries the extensions own)\n", plan.srv.database, len(skipped))
	if _, err := lc.run(ctx, plan.tool, "--exit-on-error", "--single-transaction", "--no-owner", "--no-acl", "--no-password",
		"--use-list="+listFile, "--dbname="+lc.url, dump); err != nil {
		return fmt.Errorf("restoring database %s (nothing was kept: one transaction): %w", plan.srv.database, err)
	}
	conn, err := t.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	remapped, err := repairAGECatalog(ctx, conn)
	if err != nil {
		return err
	}
	if remapped > 0 {
		fmt.Fprintf(out, "  AGE catalog: %d graph ids set to their restored schemas' oids\n", remapped)
	}
	if _, err := conn.Exec(ctx, `ANALYZE`); err != nil {
		return fmt.Errorf("analyzing the restored database: %w", err)
	}
	return verifyPostgres(ctx, conn, m)
}

// repairAGECatalog sets ag_graph.graphid (and ag_label.graph, which refers
// to it) to the oid of each graph's restored schema, as create_graph sets
// them: a dump carries these bare oids from the source database. It goes
// through values no schema has first, so no two graphs ever collide; each
// step is one statement, so the foreign key from ag_label holds at its end.
func repairAGECatalog(ctx context.Context, conn *pgx.Conn) (int64, error) {
	if ok, err := relationExists(ctx, conn, "ag_catalog.ag_graph"); err != nil || !ok {
		return 0, err
	}
	const remap = `WITH m AS (SELECT graphid AS old, %s AS new FROM ag_catalog.ag_graph WHERE graphid <> namespace::oid),
		g AS (UPDATE ag_catalog.ag_graph a SET graphid = m.new FROM m WHERE a.graphid = m.old RETURNING 1),
		l AS (UPDATE ag_catalog.ag_label b SET graph = m.new FROM m WHERE b.graph = m.old RETURNING 1)
		SELECT (SELECT count(*) FROM g), (SELECT count(*) FROM l)`
	var graphs int64
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		var labels int64
		if err := tx.QueryRow(ctx, fmt.Sprintf(remap, `(4294967295 - row_number() OVER (ORDER BY graphid))::oid`)).Scan(&graphs, &labels); err != nil {
			return err
		}
		return tx.QueryRow(ctx, fmt.Sprintf(remap, `namespace::oid`)).Scan(&graphs, &labels)
	})
	if err != nil {
		return 0, fmt.Errorf("repairing AGE's catalog: %w", err)
	}
	return graphs, nil
}

// verifyPostgres compares the restored database with the manifest and runs
// a Cypher query on every graph.
func verifyPostgres(ctx context.Context, conn *pgx.Conn, m *PostgresManifest) error {
	st, err := readState(ctx, conn)
	if err != nil {
		return err
	}
	var errs []error
	if !slices.Equal(st.graphs, m.Graphs) {
		errs = append(errs, fmt.Errorf("AGE graphs %v, the backup had %v", st.graphs, m.Graphs))
	}
	if st.labels != m.Labels {
		errs = append(errs, fmt.Errorf("%d AGE labels, the backup had %d", st.labels, m.Labels))
	}
	if st.activeGraph != m.ActiveGraph || st.vertices != m.Vertices || st.edges != m.Edges {
		errs = append(errs, fmt.Errorf("active graph %q with %d vertices and %d edges, the backup had %q with %d and %d",
			st.activeGraph, st.vertices, st.edges, m.ActiveGraph, m.Vertices, m.Edges))
	}
	if int64(len(st.dataKeys)) != m.DataKeys {
		errs = append(errs, fmt.Errorf("%d data keys, the backup had %d", len(st.dataKeys), m.DataKeys))
	}
	if len(st.graphs) > 0 {
		var bad int64
		if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM ag_catalog.ag_graph WHERE graphid <> namespace::oid)
			+ (SELECT count(*) FROM ag_catalog.ag_label l WHERE NOT EXISTS (SELECT 1 FROM ag_catalog.ag_graph g WHERE g.graphid = l.graph))`).Scan(&bad); err != nil {
			return fmt.Errorf("checking AGE's catalog: %w", err)
		}
		if bad > 0 {
			errs = append(errs, fmt.Errorf("AGE's catalog has %d rows whose graph id does not match its schema", bad))
		}
	}
	for _, g := range st.graphs {
		var one string
		q := fmt.Sprintf(`SELECT x::text FROM ag_catalog.cypher('%s', $$ RETURN 1 $$) AS (x ag_catalog.agtype)`, strings.ReplaceAll(g, "'", "''"))
		if err := conn.QueryRow(ctx, q).Scan(&one); err != nil || one != "1" {
			errs = append(errs, fmt.Errorf("cypher on restored graph %s: %v", g, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("the restored database does not match the backup:\n%w", errors.Join(errs...))
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
