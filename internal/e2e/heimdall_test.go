package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/heimdallhub/heimdall/internal/config/devstack"
	"github.com/heimdallhub/heimdall/internal/kafka"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// heimdallBinary builds cmd/heimdall once per test run.
func heimdallBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "heimdall-e2e-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "heimdall")
		root, err := devstack.ModuleRoot()
		if err != nil {
			buildErr = err
			return
		}
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/heimdall")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func randomSuffix() string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// freshDatabase creates an empty database for one test and returns its URL.
func freshDatabase(t testing.TB, st devstack.Stack) string {
	t.Helper()
	name := "heimdall_e2e_" + randomSuffix()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, st.PostgresURL)
	if err != nil {
		t.Fatalf("connecting to postgres: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("creating database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, st.PostgresURL)
		if err == nil {
			_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			c.Close(ctx)
		}
	})
	u, err := url.Parse(st.PostgresURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

func freePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// instance is one Heimdall deployment for a test: its own database and
// topics on the shared stack, and the processes running it.
type instance struct {
	t       testing.TB
	st      devstack.Stack
	env     map[string]string
	addr    string
	dbURL   string
	logDir  string
	procs   []*process
	token   string
	client  *http.Client
	eventsT string
}

type process struct {
	cmd  *exec.Cmd
	name string
	done chan struct{}
	log  *os.File
}

func newInstance(t testing.TB) *instance {
	t.Helper()
	st := devstack.Env(t)
	in := &instance{t: t, st: st, addr: freePort(t), dbURL: freshDatabase(t, st), logDir: t.TempDir()}
	suffix := randomSuffix()
	in.eventsT = "heimdall.e2e." + suffix + ".events"
	in.env = map[string]string{
		"HEIMDALL_PEER_ID":             "e2e-" + suffix,
		"HEIMDALL_HTTP_ADDR":           in.addr,
		"HEIMDALL_TLS_CERT_FILE":       st.TLSCertFile,
		"HEIMDALL_TLS_KEY_FILE":        st.TLSKeyFile,
		"HEIMDALL_CA_FILE":             st.CAFile,
		"HEIMDALL_KAFKA_BROKERS":       strings.Join(st.KafkaBrokers, ","),
		"HEIMDALL_KAFKA_EVENTS_TOPIC":  in.eventsT,
		"HEIMDALL_KAFKA_REJECTS_TOPIC": "heimdall.e2e." + suffix + ".rejects",
		"HEIMDALL_KAFKA_AUDIT_TOPIC":   "heimdall.e2e." + suffix + ".audit",
		"HEIMDALL_MASTER_KEY":          randomKey(t),
		"HEIMDALL_PSEUDONYM_KEYS":      "pk1=" + randomKey(t),
		"HEIMDALL_KAFKA_PARTITIONS":    "3",
		"HEIMDALL_POSTGRES_URL":        in.dbURL,
		"HEIMDALL_OIDC_ISSUER":         st.OIDCIssuer,
		"HEIMDALL_SHUTDOWN_TIMEOUT":    "10s",
	}
	// Every component of the instance authenticates to Kafka as the
	// stack's one-process principal (tests of least privilege override it).
	for k, v := range st.KafkaEnv(t, devstack.KafkaHeimdall) {
		in.env[k] = v
	}
	in.client = &http.Client{Transport: &http.Transport{TLSClientConfig: st.TLSConfig()}, Timeout: 5 * time.Minute}
	in.token = st.TokenForClient(t, devstack.ClientCLI)
	// Registered first, so it runs after the processes are stopped: the
	// instance's topics go, and the shared broker stays small (a broker
	// restart recovers every partition it holds).
	t.Cleanup(in.deleteTopics)
	t.Cleanup(in.stopAll)
	return in
}

// start runs `heimdall args...` with the instance's environment plus extra.
func (in *instance) start(name string, extra map[string]string, args ...string) *process {
	in.t.Helper()
	cmd := exec.Command(heimdallBinary(in.t), args...)
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range in.env {
		if _, override := extra[k]; !override {
			env = append(env, k+"="+v)
		}
	}
	for k, v := range extra {
		env = append(env, k+"="+v)
	}
	cmd.Env = env
	logf, err := os.OpenFile(filepath.Join(in.logDir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		in.t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		in.t.Fatalf("starting heimdall %v: %v", args, err)
	}
	p := &process{cmd: cmd, name: name, done: make(chan struct{}), log: logf}
	go func() { _ = cmd.Wait(); close(p.done) }()
	in.procs = append(in.procs, p)
	return p
}

// serve starts `heimdall serve` and waits until /readyz says ready.
func (in *instance) serve(name string, extra map[string]string) *process {
	in.t.Helper()
	p := in.start(name, extra, "serve")
	in.waitReady(p)
	return p
}

func (in *instance) waitReady(p *process) {
	in.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			in.t.Fatalf("%s exited before it was ready:\n%s", p.name, in.logs(p.name))
		default:
		}
		resp, err := in.client.Get("https://" + in.addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	in.t.Fatalf("%s not ready after 90s:\n%s", p.name, in.logs(p.name))
}

func (in *instance) logs(name string) string {
	b, _ := os.ReadFile(filepath.Join(in.logDir, name+".log"))
	if len(b) > 8000 {
		b = b[len(b)-8000:]
	}
	return string(b)
}

// kill9 kills the process without any chance to clean up.
func (p *process) kill9(t testing.TB) {
	t.Helper()
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// stop asks the process to shut down gracefully.
func (p *process) stop(t testing.TB) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.kill9(t)
		t.Errorf("%s did not stop within 30s of SIGTERM", p.name)
	}
}

// deleteTopics deletes the topics of the instance (best effort).
func (in *instance) deleteTopics() {
	cl, err := kafka.NewClient(in.st.Kafka(in.t, devstack.KafkaAdmin))
	if err != nil {
		return
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var names []string
	for _, k := range []string{"HEIMDALL_KAFKA_EVENTS_TOPIC", "HEIMDALL_KAFKA_REJECTS_TOPIC", "HEIMDALL_KAFKA_AUDIT_TOPIC"} {
		if n := in.env[k]; strings.HasPrefix(n, "heimdall.e2e.") {
			names = append(names, n)
		}
	}
	_, _ = kadm.NewClient(cl).DeleteTopics(ctx, names...)
}

func (in *instance) stopAll() {
	for _, p := range in.procs {
		select {
		case <-p.done:
		default:
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
		p.log.Close()
	}
}

// ingestResult mirrors the ingest response.
type ingestResult struct {
	RequestID  string `json:"request_id"`
	BatchID    string `json:"batch_id"`
	Rows       int64  `json:"rows"`
	Accepted   int64  `json:"accepted"`
	Rejected   int64  `json:"rejected"`
	Duplicates int64  `json:"duplicates"`
	Events     int64  `json:"events"`
	Rejects    []struct {
		Line       int64  `json:"line"`
		ByteOffset int64  `json:"byte_offset"`
		Code       string `json:"code"`
		Reason     string `json:"reason"`
	} `json:"rejects"`
}

// ingest posts body; it returns the HTTP status and, on 200, the result.
func (in *instance) ingest(body []byte, query string, headers map[string]string) (int, ingestResult, error) {
	req, err := http.NewRequest(http.MethodPost, "https://"+in.addr+"/v1/ingest?"+query, bytes.NewReader(body))
	if err != nil {
		return 0, ingestResult{}, err
	}
	req.Header.Set("Authorization", "Bearer "+in.token)
	req.Header.Set("Content-Type", "application/x-ndjson")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := in.client.Do(req)
	if err != nil {
		return 0, ingestResult{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var res ingestResult
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, &res); err != nil {
			return resp.StatusCode, res, fmt.Errorf("decoding ingest response: %w: %s", err, b)
		}
	}
	return resp.StatusCode, res, nil
}

// mustIngest ingests body and fails the test unless it is accepted.
func (in *instance) mustIngest(body []byte, query string) ingestResult {
	in.t.Helper()
	code, res, err := in.ingest(body, query, nil)
	if err != nil || code != http.StatusOK {
		in.t.Fatalf("ingest: status %d, err %v\n%s", code, err, in.logs("serve"))
	}
	if res.Rows != res.Accepted+res.Rejected+res.Duplicates {
		in.t.Fatalf("counts do not add up: %+v", res)
	}
	return res
}

// get fetches an API path with the instance token and decodes JSON into v.
func (in *instance) get(path string, v any) int {
	in.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "https://"+in.addr+path, nil)
	req.Header.Set("Authorization", "Bearer "+in.token)
	resp, err := in.client.Do(req)
	if err != nil {
		in.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	if v != nil {
		_ = json.NewDecoder(resp.Body).Decode(v)
	}
	return resp.StatusCode
}

// allLogs returns the tail of every process log of the instance.
func (in *instance) allLogs() string {
	var b strings.Builder
	for _, p := range in.procs {
		fmt.Fprintf(&b, "--- %s\n%s\n", p.name, in.logs(p.name))
	}
	return b.String()
}

// randomKey is a fresh base64 key of 32 random bytes.
func randomKey(t testing.TB) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}
