package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/internal/config/devstack"
	"github.com/heimdallhub/heimdall/internal/kafka"
	"github.com/heimdallhub/heimdall/internal/observable"
	"github.com/heimdallhub/heimdall/internal/pii/keys"
	"github.com/heimdallhub/heimdall/internal/pii/transform"
)

// canaryPolicy marks every personal field of the dumps below: client
// addresses are pseudonymised (so they join), accounts and mailboxes
// encrypted (so an authorised caller can read them), free text scrubbed;
// destination addresses, ports and protocols are declared non-personal.
// Fields it does not name (full_name, phone, ...) are dropped.
const canaryPolicy = `
version: "2026-11-28.7"
levels: [UNCLASSIFIED, CONFIDENTIAL, SECRET, TOP SECRET]
default: {level: TOP SECRET, action: drop}
profiles:
  "*":
    fields:
      src_ip:      {level: SECRET, action: pseudonymise, kind: ip}
      src:         {level: SECRET, action: pseudonymise, kind: ip}
      id.orig_h:   {level: SECRET, action: pseudonymise, kind: ip}
      dst_ip:      {level: UNCLASSIFIED, action: keep}
      dest_ip:     {level: UNCLASSIFIED, action: keep}
      dst:         {level: UNCLASSIFIED, action: keep}
      id.resp_h:   {level: UNCLASSIFIED, action: keep}
      dst_port:    {level: UNCLASSIFIED, action: keep}
      dest_port:   {level: UNCLASSIFIED, action: keep}
      dpt:         {level: UNCLASSIFIED, action: keep}
      dstPort:     {level: UNCLASSIFIED, action: keep}
      id.resp_p:   {level: UNCLASSIFIED, action: keep}
      proto:       {level: UNCLASSIFIED, action: keep}
      host:        {level: UNCLASSIFIED, action: keep}
      http.hostname: {level: UNCLASSIFIED, action: keep}
      user:        {level: SECRET, action: encrypt}
      usrName:     {level: SECRET, action: encrypt}
      suser:       {level: SECRET, action: encrypt}
      duser:       {level: SECRET, action: pseudonymise, kind: user}
      email:       {level: SECRET, action: encrypt}
      sender:      {level: SECRET, action: pseudonymise, kind: email}
      message:     {level: CONFIDENTIAL, action: scrub}
      msg:         {level: CONFIDENTIAL, action: scrub}
      url:         {level: CONFIDENTIAL, action: scrub}
      request:     {level: CONFIDENTIAL, action: scrub}
      path:        {level: CONFIDENTIAL, action: scrub}
      user_agent:  {level: CONFIDENTIAL, action: scrub}
      http.http_user_agent: {level: CONFIDENTIAL, action: scrub}
  rejects:
    fields:
      raw:         {level: TOP SECRET, action: encrypt}
`

// canaries are unique personal values of one test run.
type canaries struct {
	email, sender, name, user2, phone, card, cardGrouped, userDir, ip string
}

func newCanaries(t *testing.T) canaries {
	t.Helper()
	r := strings.ToLower(hex.EncodeToString(randomBytes(t, 4)))
	letters := strings.Map(func(c rune) rune {
		if c >= '0' && c <= '9' {
			return 'g' + (c - '0')
		}
		return c
	}, r)
	n, _ := rand.Int(rand.Reader, big.NewInt(100000))
	phone := fmt.Sprintf("+44 7700 9%05d", n.Int64())
	card := luhnCard(t)
	ipB, _ := rand.Int(rand.Reader, big.NewInt(256))
	ipC, _ := rand.Int(rand.Reader, big.NewInt(100))
	return canaries{
		email:       "canary." + r + "@mail-" + r + ".example",
		sender:      "sender." + r + "@post-" + r + ".example",
		name:        "Zelda" + strings.ToUpper(letters[:1]) + letters[1:] + "quist",
		user2:       "duser" + letters,
		phone:       phone,
		card:        card,
		cardGrouped: card[0:4] + " " + card[4:8] + " " + card[8:12] + " " + card[12:16],
		userDir:     "u" + r,
		ip:          fmt.Sprintf("198.18.%d.%d", ipB.Int64(), 100+ipC.Int64()),
	}
}

// needles are the byte strings that must never appear: every canary, in
// the spellings a leak would take (lower case, URL- and JSON-escaped, digits
// only).
func (c canaries) needles() []string {
	digits := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, s)
	}
	out := []string{
		c.email, strings.ToLower(c.email), url.QueryEscape(c.email), strings.SplitN(c.email, "@", 2)[0],
		c.sender, strings.SplitN(c.sender, "@", 2)[0],
		c.name, strings.ToLower(c.name), c.user2,
		c.phone, digits(c.phone), strings.ReplaceAll(c.phone, " ", ""), c.phone[len(c.phone)-7:],
		c.card, c.cardGrouped,
		c.userDir,
		c.ip,
	}
	return out
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// luhnCard returns a random Visa number with a valid Luhn check digit.
func luhnCard(t *testing.T) string {
	t.Helper()
	d := make([]int, 16)
	d[0] = 4
	for i := 1; i < 15; i++ {
		n, _ := rand.Int(rand.Reader, big.NewInt(10))
		d[i] = int(n.Int64())
	}
	sum := 0
	for i := 14; i >= 0; i-- {
		v := d[i]
		if (14-i)%2 == 0 {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	d[15] = (10 - sum%10) % 10
	var b strings.Builder
	for _, x := range d {
		b.WriteByte(byte('0' + x))
	}
	return b.String()
}

// dumps returns one upload per supported format, each seeded with the
// canaries, plus the query of its upload.
func (c canaries) dumps() map[string]struct{ query, body string } {
	freeText := fmt.Sprintf("login by %s from %s paid with %s saved to /home/%s/notes.txt", c.email, c.phone, c.cardGrouped, c.userDir)
	portal := "https://portal.example/reset?email=" + url.QueryEscape(c.email) + "&phone=" + url.QueryEscape(c.phone) + "&card=" + c.card
	ndjson := func(v map[string]any) string {
		b, _ := json.Marshal(v)
		return string(b) + "\n"
	}
	out := map[string]struct{ query, body string }{}
	out["ndjson"] = struct{ query, body string }{"source=canary-ndjson&file=canary.ndjson", ndjson(map[string]any{
		"timestamp": "2026-11-20T08:15:02Z", "src_ip": c.ip, "dst_ip": "203.0.113.7", "dst_port": 443, "proto": "tcp",
		"email": c.email, "user": c.name, "full_name": c.name + " Smith", "phone": c.phone,
		"message": freeText, "url": portal, "path": `C:\Users\` + c.userDir + `\Desktop\card.txt`,
		"sha256": "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
	}) + ndjson(map[string]any{
		"timestamp": "2026-11-20T08:16:02Z", "src_ip": c.ip, "dst_ip": "203.0.113.8", "sender": c.sender, "recipient_name": c.name,
	}) +
		// A broken line holding canaries: its raw bytes are rejected and
		// must reach the rejects topic sealed only.
		`{"src_ip":"` + c.ip + `","email":"` + c.email + `","card":"` + c.card + `", broken` + "\n"}
	out["csv"] = struct{ query, body string }{"source=canary-csv&file=canary.csv&format=csv",
		"timestamp,src_ip,dst_ip,dst_port,proto,user,url,full_name\n" +
			fmt.Sprintf("2026-11-20T08:15:02Z,%s,203.0.113.7,443,tcp,%s,%s,%s Smith\n", c.ip, c.name, portal, c.name)}
	out["zeek"] = struct{ query, body string }{"source=canary-zeek&file=http.log&format=zeek",
		"#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\thttp\n" +
			"#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tmethod\thost\turi\tuser_agent\tusername\n" +
			"#types\ttime\tstring\taddr\tport\taddr\tport\tstring\tstring\tstring\tstring\tstring\n" +
			fmt.Sprintf("1763626502.114000\tCk1\t%s\t49152\t198.51.100.20\t443\tGET\tportal.example\t/reset?email=%s&card=%s\tMozilla/5.0 (%s; %s)\t%s\n",
				c.ip, url.QueryEscape(c.email), c.card, c.email, c.phone, c.name)}
	out["eve"] = struct{ query, body string }{"source=canary-eve&file=eve.json&format=eve", ndjson(map[string]any{
		"timestamp": "2026-11-20T08:15:02.114000+0000", "flow_id": 1, "event_type": "http", "src_ip": c.ip, "src_port": 49152,
		"dest_ip": "198.51.100.20", "dest_port": 443, "proto": "TCP",
		"http": map[string]any{"hostname": "portal.example", "url": "/reset?email=" + url.QueryEscape(c.email) + "&card=" + c.card,
			"http_user_agent": "Mozilla/5.0 (" + c.email + ")", "http_method": "GET", "status": 200},
	})}
	out["cef"] = struct{ query, body string }{"source=canary-cef&file=events.cef&format=cef",
		fmt.Sprintf("<134>Nov 20 08:15:02 fw01 CEF:0|Example|Gateway|9.1|auth|login|3|rt=1763626502114 src=%s dst=198.51.100.20 dpt=443 proto=TCP suser=%s duser=%s request=%s msg=%s act=allow\n",
			c.ip, c.name, c.user2, strings.ReplaceAll(portal, "=", `\=`), freeText)}
	out["json"] = struct{ query, body string }{"source=canary-json&file=export.json&format=json", "[" + strings.TrimSuffix(ndjson(map[string]any{
		"timestamp": "2026-11-20T08:15:02Z", "src_ip": c.ip, "dst_ip": "203.0.113.9", "email": c.email, "message": freeText,
	}), "\n") + "]"}
	out["tsv"] = struct{ query, body string }{"source=canary-tsv&file=proxy.tsv&format=tsv",
		"timestamp\tsrc_ip\tdst_ip\tuser\turl\tphone\n" +
			fmt.Sprintf("2026-11-20T08:15:02Z\t%s\t203.0.113.10\t%s\t%s\t%s\n", c.ip, c.name, portal, c.phone)}
	out["zeek-json"] = struct{ query, body string }{"source=canary-zeek-json&file=http.json&format=zeek-json", ndjson(map[string]any{
		"_path": "http", "ts": 1763626502.114, "uid": "Ck2", "id.orig_h": c.ip, "id.orig_p": 49153, "id.resp_h": "198.51.100.22",
		"id.resp_p": 443, "method": "GET", "host": "portal.example", "uri": "/reset?email=" + url.QueryEscape(c.email) + "&card=" + c.card,
		"user_agent": "Mozilla/5.0 (" + c.phone + ")", "username": c.name,
	})}
	out["leef"] = struct{ query, body string }{"source=canary-leef&file=events.leef&format=leef",
		fmt.Sprintf("LEEF:2.0|Example|IDS|1.0|login|^|src=%s^dst=198.51.100.21^dstPort=22^proto=TCP^usrName=%s^msg=%s\n",
			c.ip, c.name, freeText)}
	return out
}

// otlpSink is a stand-in trace collector: it keeps the raw OTLP/HTTP
// request bodies Heimdall exports.
type otlpSink struct {
	mu     sync.Mutex
	bodies [][]byte
	url    string
}

func newOTLPSink(t *testing.T, st devstack.Stack) *otlpSink {
	t.Helper()
	s := &otlpSink{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			s.mu.Lock()
			s.bodies = append(s.bodies, b)
			s.mu.Unlock()
			w.Header().Set("Content-Type", "application/x-protobuf")
			w.WriteHeader(http.StatusOK)
		}),
		TLSConfig:         st.ServerTLSConfig(t),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })
	s.url = "https://localhost:" + fmt.Sprint(ln.Addr().(*net.TCPAddr).Port) + "/v1/traces"
	return s
}

func (s *otlpSink) all() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Join(s.bodies, []byte{0})
}

// findNeedles reports which needles occur in b.
func findNeedles(b []byte, needles []string) []string {
	var hit []string
	for _, n := range needles {
		if bytes.Contains(b, []byte(n)) {
			hit = append(hit, n)
		}
	}
	return hit
}

// scanTree reads every regular file under root and reports the files that
// hold a needle. It returns the bytes scanned.
func scanTree(t *testing.T, root string, needles []string) (int64, map[string][]string) {
	t.Helper()
	var total int64
	found := map[string][]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) || os.IsPermission(err) {
				return nil // files come and go in a live data directory
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		total += int64(len(b))
		if hit := findNeedles(b, needles); len(hit) > 0 {
			found[path] = hit
		}
		return nil
	})
	if err != nil {
		t.Fatalf("scanning %s: %v", root, err)
	}
	return total, found
}

// recordCollector gathers every record of a topic (kafka.ReadRange).
type recordCollector struct{ recs []events.LogRecord }

func (c *recordCollector) Offsets(context.Context, string, []int32) (map[int32]int64, error) {
	return map[int32]int64{}, nil
}

func (c *recordCollector) Handle(_ context.Context, recs []events.LogRecord) error {
	c.recs = append(c.recs, recs...)
	return nil
}

func (in *instance) topicRecords(topic string) []events.LogRecord {
	in.t.Helper()
	c := &recordCollector{}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := kafka.ReadRange(ctx, in.st.Kafka(in.t, devstack.KafkaAdmin), topic, 1000, c, nil); err != nil {
		in.t.Fatalf("reading %s: %v", topic, err)
	}
	return c.recs
}

// decryptItem is one item of a decrypt request or answer.
type decryptItem struct {
	Record  string `json:"record"`
	Field   string `json:"field"`
	Value   string `json:"value,omitempty"`
	Outcome string `json:"outcome,omitempty"`
}

// decrypt calls POST /v1/decrypt with token.
func (in *instance) decrypt(token string, items ...decryptItem) (int, []decryptItem) {
	in.t.Helper()
	body, _ := json.Marshal(map[string]any{"purpose": "canary test", "items": items})
	req, _ := http.NewRequest(http.MethodPost, "https://"+in.addr+"/v1/decrypt", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := in.client.Do(req)
	if err != nil {
		in.t.Fatalf("decrypt: %v", err)
	}
	defer resp.Body.Close()
	var out struct {
		Items []decryptItem `json:"items"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out.Items
}

// pseudonymKeys parses the instance's pseudonymisation keys.
func (in *instance) pseudonymKeys() *keys.PseudonymKeys {
	in.t.Helper()
	ps, err := keys.ParsePseudonymKeys("test", in.env["HEIMDALL_PSEUDONYM_KEYS"])
	if err != nil {
		in.t.Fatal(err)
	}
	return ps
}

// personalKey is the graph key Heimdall gives a personal value.
func (in *instance) personalKey(kind observable.Kind, value string) string {
	in.t.Helper()
	ps := in.pseudonymKeys()
	v, _ := ps.Current()
	p, err := transform.Pseudonym(ps, v, string(kind), value)
	if err != nil {
		in.t.Fatal(err)
	}
	return observable.PersonalKey(kind, p)
}

func (in *instance) pseudonym(kind, value string) string {
	in.t.Helper()
	ps := in.pseudonymKeys()
	v, _ := ps.Current()
	p, err := transform.Pseudonym(ps, v, kind, value)
	if err != nil {
		in.t.Fatal(err)
	}
	return p
}

// TestCanariesNeverStoredInPlaintext ingests a dump in every supported
// format seeded with unique personal-data canaries, then scans the raw
// bytes of everything Heimdall wrote or emitted: Kafka's log segments, the
// PostgreSQL data directory after CHECKPOINT, every log line, /metrics,
// exported traces, the rejects topic and API answers. No canary may appear.
// The canaries still join (equal pseudonyms, one vertex) and an authorised
// caller can decrypt the encrypted ones, with every decryption audited.
func TestCanariesNeverStoredInPlaintext(t *testing.T) {
	kafkaDir := os.Getenv("HEIMDALL_KAFKA_DATA_DIR")
	pgDir := os.Getenv("HEIMDALL_PG_DATA_DIR")
	in := newInstance(t)
	if kafkaDir == "" || pgDir == "" || in.st.PostgresAdminURL == "" {
		t.Fatal("HEIMDALL_KAFKA_DATA_DIR, HEIMDALL_PG_DATA_DIR and HEIMDALL_POSTGRES_ADMIN_URL must be set (source .stack/env)")
	}
	c := newCanaries(t)
	needles := c.needles()
	policyFile := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(policyFile, []byte(canaryPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	sink := newOTLPSink(t, in.st)
	srv := in.serve("serve", map[string]string{
		"HEIMDALL_PII_POLICY":      policyFile,
		"HEIMDALL_OTLP_TRACES_URL": sink.url,
		"HEIMDALL_LOG_LEVEL":       "debug",
		// Uncompressed batches: the segment scan below then sees every
		// byte Heimdall wrote as it is (the records are also read back
		// through a consumer, which decompresses whatever the setting).
		"HEIMDALL_KAFKA_COMPRESSION": "none",
	})

	// Every needle is in the input: the scans below would find a leak.
	var input strings.Builder
	for _, d := range c.dumps() {
		input.WriteString(d.body)
	}
	for _, n := range []string{c.email, c.sender, c.name, c.user2, c.phone, c.card, c.cardGrouped, c.userDir, c.ip} {
		if !strings.Contains(input.String(), n) {
			t.Fatalf("needle %q is not in the input", n)
		}
	}

	var apiBodies bytes.Buffer
	batches := map[string]string{}
	for name, d := range c.dumps() {
		code, res, err := in.ingest([]byte(d.body), d.query, nil)
		if err != nil || code != http.StatusOK {
			t.Fatalf("%s: status %d %v\n%s", name, code, err, in.logs("serve"))
		}
		if res.Accepted == 0 || res.Rows != res.Accepted+res.Rejected+res.Duplicates {
			t.Fatalf("%s: %+v", name, res)
		}
		if name == "ndjson" && res.Rejected != 1 {
			t.Fatalf("ndjson: the broken line was not rejected: %+v", res)
		}
		batches[name] = res.BatchID
		b, _ := json.Marshal(res)
		apiBodies.Write(b)
	}
	s := in.store()
	in.waitProjected(s, 2*time.Minute)
	ctx := context.Background()

	// Joinable: the client address, pseudonymised in every format, is one
	// vertex seen by every source; its value is the keyed pseudonym,
	// not a plain hash.
	ipKey := in.personalKey(observable.KindIPv4Addr, c.ip)
	var ipView struct {
		Key     string   `json:"key"`
		Value   string   `json:"value"`
		Sources []string `json:"sources"`
	}
	if code := in.get("/v1/entities/"+ipKey, &ipView); code != http.StatusOK {
		t.Fatalf("client address vertex %s: %d", ipKey, code)
	}
	if len(ipView.Sources) != len(c.dumps()) {
		t.Errorf("client address joined %d sources, want %d: %v", len(ipView.Sources), len(c.dumps()), ipView.Sources)
	}
	if want := in.pseudonym("ip", c.ip); ipView.Value != want {
		t.Errorf("client address value %q, want its pseudonym %q", ipView.Value, want)
	}
	plain := sha256.Sum256([]byte(c.ip))
	for _, h := range []string{hex.EncodeToString(plain[:]), base64.RawURLEncoding.EncodeToString(plain[:]), base64.StdEncoding.EncodeToString(plain[:])} {
		if strings.Contains(ipView.Value, h) {
			t.Fatal("the stored pseudonym is the plain SHA-256 of the address")
		}
	}
	if plainKey, _ := observable.ParseIP(c.ip); in.get("/v1/entities/"+plainKey.Key(), nil) != http.StatusNotFound {
		t.Error("a vertex keyed by the plain address exists")
	}
	b, _ := json.Marshal(ipView)
	apiBodies.Write(b)
	// Looking personal values up by raw value puts them in a URL: neither
	// the logs nor the traces may keep it.
	var lk struct {
		Matched string `json:"matched"`
	}
	if code := in.get("/v1/entities?email="+url.QueryEscape(c.email), &lk); code != http.StatusOK || lk.Matched != "personal" {
		t.Errorf("lookup by e-mail: %d %+v", code, lk)
	}
	if code := in.get("/v1/entities?ip="+c.ip, &lk); code != http.StatusOK || lk.Matched != "personal" {
		t.Errorf("lookup by address: %d %+v", code, lk)
	}

	// The e-mail address scrubbed out of free text carries the same
	// pseudonym in the messages of different formats.
	g, err := s.ActiveGraph(ctx)
	if err != nil {
		t.Fatal(err)
	}
	emailPs := in.pseudonym("email", c.email)
	var msgs int
	if err := s.Pool().QueryRow(ctx, fmt.Sprintf(`SELECT count(*) FROM %q.relation_state WHERE attributes::text LIKE '%%' || $1 || '%%'`, g), emailPs).Scan(&msgs); err != nil {
		t.Fatal(err)
	}
	if msgs < 3 {
		t.Errorf("%d relations carry the e-mail's pseudonym in scrubbed text, want >= 3 (ndjson, cef, leef)", msgs)
	}

	// Decryptable by an authorised caller, through the API only.
	emailKey := in.personalKey(observable.KindEmailAddr, c.email)
	userKey := in.personalKey(observable.KindUserAccount, c.name)
	var emailView struct {
		Value string `json:"value"`
	}
	if code := in.get("/v1/entities/"+emailKey, &emailView); code != http.StatusOK || !strings.HasPrefix(emailView.Value, "enc:v1:") {
		t.Fatalf("e-mail vertex: %d %q", code, emailView.Value)
	}
	code, got := in.decrypt(in.token, decryptItem{Record: emailKey, Field: "value"}, decryptItem{Record: userKey, Field: "value"})
	if code != http.StatusOK || len(got) != 2 || got[0].Value != c.email || got[1].Value != c.name {
		t.Fatalf("authorised decrypt: %d %+v", code, got)
	}

	// The rejected line is on the rejects topic sealed, and opens only for
	// its batch and line.
	var rejectContent string
	var rejectRecord string
	for _, r := range in.topicRecords(in.env["HEIMDALL_KAFKA_REJECTS_TOPIC"]) {
		if hit := findNeedles(r.Value, needles); len(hit) > 0 {
			t.Errorf("rejects topic record holds canaries %v", hit)
		}
		ev, err := decodeEvent(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		rej := ev.Payload.(events.IngestRejected)
		if ev.BatchID == batches["ndjson"] {
			rejectContent, rejectRecord = rej.Content, fmt.Sprintf("%s/%d", ev.BatchID, ev.Provenance.Line)
		}
	}
	if !strings.HasPrefix(rejectContent, "enc:v1:") {
		t.Fatalf("rejected line content %q, want sealed", rejectContent)
	}
	code, got = in.decrypt(in.token, decryptItem{Record: rejectRecord, Field: "raw", Value: rejectContent})
	if code != http.StatusOK || !strings.Contains(got[0].Value, c.email) || !strings.Contains(got[0].Value, "broken") {
		t.Fatalf("decrypting the rejected line: %d %+v", code, got)
	}

	// Tampered, moved to another record or field: decryption fails.
	cut := strings.LastIndexByte(emailView.Value, ':')
	ct, err := base64.RawURLEncoding.DecodeString(emailView.Value[cut+1:])
	if err != nil {
		t.Fatal(err)
	}
	ct[len(ct)/2] ^= 0x01
	tampered := emailView.Value[:cut+1] + base64.RawURLEncoding.EncodeToString(ct)
	code, got = in.decrypt(in.token,
		decryptItem{Record: emailKey, Field: "value", Value: tampered},
		decryptItem{Record: userKey, Field: "value", Value: emailView.Value},
		decryptItem{Record: emailKey, Field: "attributes.msg", Value: emailView.Value},
		decryptItem{Record: rejectRecord + "0", Field: "raw", Value: rejectContent},
	)
	if code != http.StatusOK {
		t.Fatalf("decrypt: %d", code)
	}
	for i, it := range got {
		if it.Outcome != "failed" || it.Value != "" {
			t.Errorf("tampered or moved item %d: %+v", i, it)
		}
	}

	// Callers without the decrypt role get nothing, and are audited.
	bob := in.st.TokenForUser(t, "bob")
	noperm := in.st.TokenForClient(t, devstack.ClientNoPerm)
	for who, tok := range map[string]string{"bob": bob, "noperm": noperm} {
		if code, got := in.decrypt(tok, decryptItem{Record: emailKey, Field: "value"}); code != http.StatusForbidden || len(got) != 0 {
			t.Errorf("%s decrypt: %d %+v", who, code, got)
		}
		req, _ := http.NewRequest(http.MethodGet, "https://"+in.addr+"/v1/entities/"+emailKey, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		if resp, err := in.client.Do(req); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			apiBodies.Write(b)
		}
	}
	audit := in.topicRecords(in.env["HEIMDALL_KAFKA_AUDIT_TOPIC"])
	outcomes := map[string]int{}
	decryptions, ingests := 0, 0
	for _, r := range audit {
		if hit := findNeedles(r.Value, needles); len(hit) > 0 {
			t.Errorf("audit record holds canaries %v", hit)
		}
		ev, err := decodeEvent(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Actor.Subject == "" || ev.RequestID == "" || ev.RecordedAt.IsZero() {
			t.Errorf("audit event without actor, request id or time: %+v", ev)
		}
		switch p := ev.Payload.(type) {
		case events.DecryptionAudited:
			decryptions++
			for _, it := range p.Items {
				outcomes[it.Outcome]++
			}
		case events.AuditRecorded:
			ingests++
		}
	}
	if decryptions != 5 || outcomes["decrypted"] != 3 || outcomes["failed"] != 4 || outcomes["denied"] != 2 || ingests != len(c.dumps()) {
		t.Errorf("audit trail: %d decryption events, outcomes %v, %d ingest batches", decryptions, outcomes, ingests)
	}

	// Scrape /metrics, then stop Heimdall so it flushes its spans and logs.
	resp, err := in.client.Get("https://" + in.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	srv.stop(t)

	scanned := map[string][]byte{
		"API answers":     apiBodies.Bytes(),
		"/metrics":        metrics,
		"exported traces": sink.all(),
	}
	if len(sink.all()) == 0 {
		t.Error("no spans were exported")
	}
	if len(metrics) == 0 {
		t.Error("no metrics")
	}
	for what, b := range scanned {
		if hit := findNeedles(b, needles); len(hit) > 0 {
			t.Errorf("%s hold canaries %v", what, hit)
		}
	}
	if n, found := scanTree(t, in.logDir, needles); n == 0 || len(found) > 0 {
		t.Errorf("Heimdall's logs (%d bytes): canaries in %v", n, found)
	}

	// Kafka's log segments of this instance's topics.
	var kafkaBytes int64
	for _, topic := range []string{in.eventsT, in.env["HEIMDALL_KAFKA_REJECTS_TOPIC"], in.env["HEIMDALL_KAFKA_AUDIT_TOPIC"]} {
		recs := in.topicRecords(topic)
		if len(recs) == 0 {
			t.Fatalf("no records on %s", topic)
		}
		for _, r := range recs {
			var hdrs []byte
			for k, v := range r.Headers {
				hdrs = append(hdrs, k+"="+v+"\n"...)
			}
			if hit := findNeedles(append(append(r.Key, r.Value...), hdrs...), needles); len(hit) > 0 {
				t.Errorf("a record of %s holds canaries %v", topic, hit)
			}
		}
		dirs, _ := filepath.Glob(filepath.Join(kafkaDir, topic+"-*"))
		if len(dirs) == 0 {
			t.Fatalf("no log directories of %s under %s", topic, kafkaDir)
		}
		for _, d := range dirs {
			n, found := scanTree(t, d, needles)
			kafkaBytes += n
			if len(found) > 0 {
				t.Errorf("Kafka log segments hold canaries: %v", found)
			}
		}
	}
	if kafkaBytes == 0 {
		t.Error("Kafka log segments are empty")
	}

	// The whole PostgreSQL data directory (tables, indexes, WAL) once every
	// dirty page is on disk.
	admin, err := pgx.Connect(ctx, in.st.PostgresAdminURL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, "CHECKPOINT"); err != nil {
		t.Fatal(err)
	}
	admin.Close(ctx)
	n, found := scanTree(t, pgDir, needles)
	if len(found) > 0 {
		t.Errorf("PostgreSQL data directory holds canaries: %v", found)
	}
	t.Logf("scanned %d bytes of Kafka segments, %d bytes of PostgreSQL data, %d spans batches; %d needles", kafkaBytes, n, len(sink.bodies), len(needles))
}

// decodeEvent decodes one log record value.
func decodeEvent(b []byte) (events.Event, error) {
	codec, err := events.NewCodec()
	if err != nil {
		return events.Event{}, err
	}
	return codec.Decode(b)
}
