package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// PGBinDirEnv names the variable pointing to the directory of pg_dump,
// pg_restore and psql of the server's major version.
const PGBinDirEnv = "HEIMDALL_PG_BIN_DIR"

// pgTool is a PostgreSQL client program and its version.
type pgTool struct {
	name    string
	path    string
	version string // as --version prints it, e.g. "pg_dump (PostgreSQL) 17.12 (Debian 17.12-0+deb13u1)"
	major   int
}

var versionRE = regexp.MustCompile(`\(PostgreSQL\) (\d+)(?:\.(\d+))?`)

// parseToolVersion extracts the major version from a --version line.
func parseToolVersion(out string) (int, error) {
	m := versionRE.FindStringSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("unrecognised version %q", strings.TrimSpace(out))
	}
	major, err := strconv.Atoi(m[1])
	if err != nil {
		return 0, fmt.Errorf("unrecognised version %q", strings.TrimSpace(out))
	}
	if major < 10 && m[2] != "" { // 9.6: the major version is two numbers
		minor, _ := strconv.Atoi(m[2])
		major = major*100 + minor
	}
	return major, nil
}

// findTool locates name in binDir (when set) or on PATH and reads its
// version.
func findTool(ctx context.Context, binDir, name string) (pgTool, error) {
	t := pgTool{name: name}
	if binDir != "" {
		t.path = filepath.Join(binDir, name)
		st, err := os.Stat(t.path)
		if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			return t, fmt.Errorf("%s=%s has no executable %s", PGBinDirEnv, binDir, name)
		}
	} else {
		p, err := exec.LookPath(name)
		if err != nil {
			return t, fmt.Errorf("%s not found on PATH (set %s to the directory of the PostgreSQL client programs of the server's major version)", name, PGBinDirEnv)
		}
		t.path = p
	}
	vctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(vctx, t.path, "--version").CombinedOutput()
	if err != nil {
		return t, fmt.Errorf("running %s --version: %w: %s", t.path, err, bytes.TrimSpace(out))
	}
	t.version = strings.TrimSpace(string(out))
	if t.major, err = parseToolVersion(t.version); err != nil {
		return t, fmt.Errorf("%s: %w", t.path, err)
	}
	return t, nil
}

// requireMajor refuses a tool of another major version than the server's.
func (t pgTool) requireMajor(serverMajor int, serverVersion string) error {
	if t.major != serverMajor {
		return fmt.Errorf("%s is PostgreSQL %d (%s: %s) but the server is PostgreSQL %d (%s): use the %s of the server's major version (set %s to its directory)",
			t.name, t.major, t.path, t.version, serverMajor, serverVersion, t.name, PGBinDirEnv)
	}
	return nil
}

// pgxOnlyParams are connection parameters pgx understands and libpq does not.
var pgxOnlyParams = map[string]bool{
	"statement_cache_capacity":   true,
	"description_cache_capacity": true,
	"default_query_exec_mode":    true,
	"prefer_simple_protocol":     true,
	"servername":                 true,
}

// inheritedEnv are the variables the client programs get from Heimdall's
// environment: nothing of Heimdall's own (its keys stay in this process),
// no PG* variable (the URL is the whole truth).
var inheritedEnv = []string{"PATH", "HOME", "TMPDIR", "TZ", "LANG", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "USER", "LOGNAME"}

// libpqConn is a connection for the PostgreSQL client programs: a URL
// without the password, and the environment carrying the password in a
// temporary passfile.
type libpqConn struct {
	url     string
	env     []string
	tempDir string
}

// newLibpqConn turns HEIMDALL_POSTGRES_URL into what pg_dump and pg_restore
// take: TLS verify-full with caFile as sslrootcert when the URL names none,
// TLS 1.3, no GSSAPI, and the password in a passfile (never on a command
// line).
func newLibpqConn(rawURL, caFile, appName string) (*libpqConn, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		// url's message would repeat the URL, password included.
		return nil, errors.New("HEIMDALL_POSTGRES_URL: not a postgres:// URL with a host")
	}
	password, hasPassword := "", false
	if u.User != nil {
		password, hasPassword = u.User.Password()
		u.User = url.User(u.User.Username())
	}
	q := u.Query()
	for k := range q {
		if strings.HasPrefix(k, "pool_") || pgxOnlyParams[k] {
			q.Del(k)
		}
	}
	switch q.Get("sslmode") {
	case "":
		q.Set("sslmode", "verify-full")
	case "verify-full", "verify-ca":
	default:
		return nil, errors.New("HEIMDALL_POSTGRES_URL: sslmode must be verify-full")
	}
	if q.Get("sslrootcert") == "" && caFile != "" {
		q.Set("sslrootcert", caFile)
	}
	defaults := map[string]string{
		"ssl_min_protocol_version": "TLSv1.3",
		"gssencmode":               "disable",
		"connect_timeout":          "10",
		"application_name":         appName,
	}
	for k, v := range defaults {
		if q.Get(k) == "" {
			q.Set(k, v)
		}
	}
	u.RawQuery = q.Encode()
	c := &libpqConn{url: u.String()}
	for _, k := range inheritedEnv {
		if v, ok := os.LookupEnv(k); ok {
			c.env = append(c.env, k+"="+v)
		}
	}
	c.env = append(c.env, "PGSSLMODE="+q.Get("sslmode"), "PGCONNECT_TIMEOUT="+q.Get("connect_timeout"))
	if root := q.Get("sslrootcert"); root != "" {
		c.env = append(c.env, "PGSSLROOTCERT="+root)
	}
	if hasPassword {
		dir, err := os.MkdirTemp("", "heimdall-pg-")
		if err != nil {
			return nil, fmt.Errorf("creating a directory for the passfile: %w", err)
		}
		pass := filepath.Join(dir, "pgpass")
		line := "*:*:*:*:" + strings.NewReplacer(`\`, `\\`, `:`, `\:`).Replace(password) + "\n"
		if err := os.WriteFile(pass, []byte(line), 0o600); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("writing the passfile: %w", err)
		}
		c.tempDir = dir
		c.env = append(c.env, "PGPASSFILE="+pass)
	}
	return c, nil
}

// Close removes the passfile.
func (c *libpqConn) Close() {
	if c.tempDir != "" {
		os.RemoveAll(c.tempDir)
	}
}

// run runs tool with args; the error carries the tail of its stderr.
func (c *libpqConn) run(ctx context.Context, tool pgTool, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, tool.path, args...)
	cmd.Env = c.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("%s: %w\n%s", tool.name, err, tail(stderr.String(), 30))
	}
	return stdout.Bytes(), nil
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{"..."}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}
