package backup

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseToolVersion(t *testing.T) {
	for in, want := range map[string]int{
		"pg_dump (PostgreSQL) 17.12 (Debian 17.12-0+deb13u1)\n": 17,
		"pg_restore (PostgreSQL) 15.18":                         15,
		"pg_dump (PostgreSQL) 18beta1":                          18,
		"pg_dump (PostgreSQL) 9.6.24":                           906,
	} {
		if got, err := parseToolVersion(in); err != nil || got != want {
			t.Errorf("%q: %d %v, want %d", in, got, err, want)
		}
	}
	if _, err := parseToolVersion("pg_dump (EnterpriseDB) x"); err == nil {
		t.Error("an unknown version line was accepted")
	}
}

// fakeTool writes an executable name into dir that prints version.
func fakeTool(t *testing.T, dir, name, version string) {
	t.Helper()
	script := "#!/bin/sh\necho '" + name + " (PostgreSQL) " + version + "'\n"
	if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestToolMajorMismatch: a pg_dump of another major version than the
// server is refused with a message that names both versions and the
// variable to set.
func TestToolMajorMismatch(t *testing.T) {
	dir := t.TempDir()
	fakeTool(t, dir, "pg_dump", "15.4 (Debian 15.4-1)")
	tool, err := findTool(context.Background(), dir, "pg_dump")
	if err != nil {
		t.Fatal(err)
	}
	if tool.major != 15 {
		t.Fatalf("major %d", tool.major)
	}
	err = tool.requireMajor(17, "17.12")
	if err == nil {
		t.Fatal("PostgreSQL 15's pg_dump accepted for a 17 server")
	}
	for _, want := range []string{"PostgreSQL 15", "PostgreSQL 17", PGBinDirEnv} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
	if err := tool.requireMajor(15, "15.4"); err != nil {
		t.Fatal(err)
	}
	if _, err := findTool(context.Background(), dir, "pg_restore"); err == nil || !strings.Contains(err.Error(), PGBinDirEnv) {
		t.Fatalf("missing tool: %v", err)
	}
}

// TestLibpqConn: the password leaves the URL for a passfile (escaped),
// TLS stays verify-full with the CA and TLS 1.3, pgx-only settings and
// inherited PG* variables are dropped, weaker sslmodes are refused.
func TestLibpqConn(t *testing.T) {
	t.Setenv("PGHOST", "elsewhere")
	t.Setenv("PGPASSWORD", "inherited")
	t.Setenv("HEIMDALL_MASTER_KEY", "not-for-pg_dump")
	c, err := newLibpqConn("postgres://heimdall:s%3Ae%5Cc:ret@localhost:55432/db?sslmode=verify-full&pool_max_conns=4&statement_cache_capacity=0", "/ca.crt", "heimdall-test")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if strings.Contains(c.url, ":ret") || strings.Contains(c.url, "s%3A") {
		t.Fatalf("password in the URL: %s", c.url)
	}
	u, err := url.Parse(c.url)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.User.Username() != "heimdall" || u.Host != "localhost:55432" || u.Path != "/db" {
		t.Fatalf("url %s", c.url)
	}
	for k, want := range map[string]string{"sslmode": "verify-full", "sslrootcert": "/ca.crt", "ssl_min_protocol_version": "TLSv1.3", "gssencmode": "disable", "application_name": "heimdall-test"} {
		if q.Get(k) != want {
			t.Errorf("%s=%q, want %q", k, q.Get(k), want)
		}
	}
	if q.Has("pool_max_conns") || q.Has("statement_cache_capacity") {
		t.Errorf("pgx-only settings kept: %s", c.url)
	}
	var passfile string
	for _, kv := range c.env {
		switch {
		case strings.HasPrefix(kv, "PGPASSFILE="):
			passfile = strings.TrimPrefix(kv, "PGPASSFILE=")
		case strings.HasPrefix(kv, "PGHOST=") || strings.HasPrefix(kv, "PGPASSWORD=") || strings.HasPrefix(kv, "HEIMDALL_"):
			t.Errorf("inherited %s kept", kv)
		}
	}
	b, err := os.ReadFile(passfile)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `*:*:*:*:s\:e\\c\:ret`+"\n" {
		t.Fatalf("passfile %q", b)
	}
	if st, _ := os.Stat(passfile); st.Mode().Perm() != 0o600 {
		t.Fatalf("passfile mode %v", st.Mode())
	}
	c.Close()
	if _, err := os.Stat(passfile); !os.IsNotExist(err) {
		t.Fatal("the passfile outlived Close")
	}

	// No sslmode: verify-full; an own sslrootcert is kept.
	c2, err := newLibpqConn("postgresql://u@h/db?sslrootcert=/own.crt", "/ca.crt", "x")
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if u, _ := url.Parse(c2.url); u.Query().Get("sslmode") != "verify-full" || u.Query().Get("sslrootcert") != "/own.crt" {
		t.Fatalf("url %s", c2.url)
	}
	for _, bad := range []string{"postgres://u:secretpw@h/db?sslmode=require", "postgres://u:secretpw@h/db?sslmode=disable", "mysql://u:secretpw@h/db", "postgres:///db"} {
		_, err := newLibpqConn(bad, "", "x")
		if err == nil {
			t.Errorf("%s accepted", bad)
		} else if strings.Contains(err.Error(), "secretpw") {
			t.Errorf("the error repeats the password: %v", err)
		}
	}
}

// TestFilterTOC: the entries the extensions own go, AGE's catalog data and
// everything of the database's own stays.
func TestFilterTOC(t *testing.T) {
	list := `;
; Archive created at 2026-11-28 05:27:06 UTC
;
8; 2615 16385 SCHEMA - ag_catalog postgres
4257; 0 0 ACL - SCHEMA ag_catalog postgres
9; 2615 132672 SCHEMA - graph_one heimdall
10; 2615 132712 SCHEMA - heimdall heimdall
2; 3079 16386 EXTENSION - age 
4258; 0 0 COMMENT - EXTENSION age 
3; 3079 16971 EXTENSION - vector 
4259; 0 0 COMMENT - EXTENSION vector 
4260; 0 0 ACL ag_catalog TABLE ag_graph postgres
4261; 0 0 ACL ag_catalog TABLE ag_label postgres
228; 1259 132685 TABLE graph_one _ag_label_edge heimdall
4075; 0 16387 TABLE DATA ag_catalog ag_graph postgres
4076; 0 16401 TABLE DATA ag_catalog ag_label postgres
4250; 0 132713 TABLE DATA heimdall t heimdall
4266; 0 0 SEQUENCE SET graph_one KNOWS_id_seq heimdall
`
	kept, skipped := filterTOC([]byte(list))
	if len(skipped) != 8 {
		t.Fatalf("skipped %d: %q", len(skipped), skipped)
	}
	for _, want := range []string{"SCHEMA - graph_one", "SCHEMA - heimdall heimdall", "TABLE DATA ag_catalog ag_graph", "TABLE DATA ag_catalog ag_label", "TABLE DATA heimdall t", "SEQUENCE SET", "; Archive created"} {
		if !strings.Contains(string(kept), want) {
			t.Errorf("dropped %q", want)
		}
	}
	for _, gone := range []string{"EXTENSION", "SCHEMA - ag_catalog", "ACL"} {
		if strings.Contains(string(kept), gone) {
			t.Errorf("kept %q:\n%s", gone, kept)
		}
	}
}
