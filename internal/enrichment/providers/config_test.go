package providers

import (
	"strings"
	"testing"
	"time"
)

func TestParseProvidersFile(t *testing.T) {
	f, err := Parse([]byte(`
providers:
  - name: geo
    type: geoip
    ttl: 12h
    rate: 50
    breaker: {failures: 3, open_for: 10s}
    geoip: {databases: [/tmp/a.mmdb], reload_every: 5s}
  - name: rep
    type: http
    kinds: [ipv4-addr]
    http: {url: "https://x.example/check?ip={value}", auth_header: Key, auth_env: REP_KEY, fields: {score: data.score},
           verdict: {path: data.score, malicious: 75, suspicious: 25}}
`))
	if err != nil {
		t.Fatal(err)
	}
	g := f.Providers[0]
	if g.TTL != 12*time.Hour || g.Rate != 50 || g.Breaker.Failures != 3 || g.Breaker.OpenFor != 10*time.Second ||
		g.GeoIP.ReloadEvery != 5*time.Second || len(g.GeoIP.Databases) != 1 {
		t.Fatalf("geo %+v", g)
	}
	if r := f.Providers[1]; r.HTTP.Verdict.Malicious != 75 || r.HTTP.Fields["score"] != "data.score" || r.HTTP.AuthEnv != "REP_KEY" {
		t.Fatalf("rep %+v", r.HTTP)
	}
}

func TestProvidersFileProblems(t *testing.T) {
	cases := []struct{ name, yaml, want string }{
		{"typo", "providers:\n  - name: a\n    type: geoip\n    tll: 1h\n    geoip: {databases: [x]}\n", "field tll not found"},
		{"empty", "providers: []\n", "names no provider"},
		{"bad name", "providers:\n  - name: A B\n    type: geoip\n    geoip: {databases: [x]}\n", "name must be"},
		{"duplicate", "providers:\n  - name: a\n    type: geoip\n    geoip: {databases: [x]}\n  - name: a\n    type: geoip\n    geoip: {databases: [x]}\n", "not unique"},
		{"unknown type", "providers:\n  - name: a\n    type: whois\n", "type must be"},
		{"wrong section", "providers:\n  - name: a\n    type: geoip\n    rdap: {base_url: https://x/}\n", `needs exactly its own "geoip" section`},
		{"negative", "providers:\n  - name: a\n    type: geoip\n    rate: -1\n    geoip: {databases: [x]}\n", "must not be negative"},
		{"http kinds", "providers:\n  - name: a\n    type: http\n    http: {url: https://x/}\n", "must name its kinds"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.yaml))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
	// Every problem at once.
	_, err := Parse([]byte("providers:\n  - name: A\n    type: x\n  - name: b\n    type: http\n    http: {url: https://x/}\n"))
	if err == nil || !strings.Contains(err.Error(), "name must be") || !strings.Contains(err.Error(), "type must be") || !strings.Contains(err.Error(), "kinds") {
		t.Fatalf("joined problems: %v", err)
	}
}

func TestBuildReportsMissingSecret(t *testing.T) {
	f, err := Parse([]byte("providers:\n  - name: rep\n    type: http\n    kinds: [ipv4-addr]\n    http: {url: \"https://x.example/{value}\", auth_header: Key, auth_env: HEIMDALL_TEST_NO_SUCH_VAR, fields: {score: data.score}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Build(t.Context(), f, Options{Lookup: func(string) (string, bool) { return "", false }})
	if err == nil || !strings.Contains(err.Error(), "HEIMDALL_TEST_NO_SUCH_VAR") {
		t.Fatalf("missing secret: %v", err)
	}
	secret := "s3cr3t-value"
	bs, err := Build(t.Context(), f, Options{Lookup: func(string) (string, bool) { return secret, true }})
	if err != nil {
		t.Fatal(err)
	}
	defer bs[0].Close()
	if bs[0].Provider.Name() != "rep" || bs[0].Provider.Type() != "http" || bs[0].Resilient.BreakerState() != "closed" {
		t.Fatalf("built %+v", bs[0])
	}
}
