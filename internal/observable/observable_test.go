package observable

import (
	"errors"
	"testing"

	"github.com/heimdallhub/heimdall/internal/observable/domain"
	"github.com/heimdallhub/heimdall/internal/observable/internal/errcheck"
	"github.com/heimdallhub/heimdall/internal/observable/ipaddr"
)

func mustKey(t *testing.T, kind Kind, raw string) string {
	t.Helper()
	o, err := Canonicalize(kind, raw)
	if err != nil {
		t.Fatalf("Canonicalize(%s, %q): %v", kind, raw, err)
	}
	k := o.Key()
	if k == "" {
		t.Fatalf("Canonicalize(%s, %q) has no key", kind, raw)
	}
	return k
}

// TestSameThingSameKey: different spellings of one observable share a key.
func TestSameThingSameKey(t *testing.T) {
	cases := []struct {
		kind Kind
		a, b string
	}{
		{KindIPv4Addr, "::ffff:1.2.3.4", "1.2.3.4"},
		{KindIPv6Addr, "::ffff:1.2.3.4", "1.2.3.4"},
		{KindIPv4Addr, "1.2.3.4/32", "1.2.3.4"},
		{KindIPv6Addr, "2001:DB8:0:0::1", "2001:db8::1"},
		{KindDomainName, "ExAmple.COM.", "example.com"},
		{KindDomainName, "bücher.example", "xn--bcher-kva.example"},
		{KindHost, "WORKSTATION-7.Corp.Example.", "workstation-7.corp.example"},
		{KindURL, "HTTP://Example.COM:80/a/../b?x#frag", "http://example.com/b?x"},
		{KindEmailAddr, "John@Example.COM", "John@example.com"},
		{KindMACAddr, "AA-BB-CC-DD-EE-FF", "aabb.ccdd.eeff"},
		{KindFile, "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{KindAutonomousSystem, "AS 15169", "15169"},
		{KindAutonomousSystem, "1.10", "65546"},
		{KindAlertSignature, " ET  POLICY\tcurl User-Agent ", "ET POLICY curl User-Agent"},
	}
	for _, c := range cases {
		if ka, kb := mustKey(t, c.kind, c.a), mustKey(t, c.kind, c.b); ka != kb {
			t.Errorf("%s: %q -> %s but %q -> %s", c.kind, c.a, ka, c.b, kb)
		}
	}
	// And different things differ.
	if mustKey(t, KindEmailAddr, "John@example.com") == mustKey(t, KindEmailAddr, "john@example.com") {
		t.Error("e-mail local parts must stay case-sensitive")
	}
	if mustKey(t, KindUserAgent, "curl/8.0") == mustKey(t, KindUserAgent, "Curl/8.0") {
		t.Error("user agents must stay case-sensitive")
	}
}

func TestCanonicalize(t *testing.T) {
	cases := []struct {
		kind     Kind
		raw      string
		wantKind Kind
		want     string
		err      error
	}{
		{kind: KindIPv4Addr, raw: "010.1.1.1", err: ipaddr.ErrAmbiguous},
		{kind: KindIPv4Addr, raw: "::ffff:1.2.3.4", wantKind: KindIPv4Addr, want: "1.2.3.4"},
		{kind: KindIPv6Addr, raw: "::ffff:1.2.3.4", wantKind: KindIPv4Addr, want: "1.2.3.4"},
		{kind: KindIPv4Addr, raw: "2001:db8::1", wantKind: KindIPv6Addr, want: "2001:db8::1"},
		{kind: KindIPv4Addr, raw: "10.1.2.3/8", wantKind: KindIPv4Addr, want: "10.0.0.0/8"},
		{kind: KindDomainName, raw: "a..b", err: domain.ErrEmptyLabel},
		{kind: KindDomainName, raw: "1.2.3.4", err: domain.ErrNumeric},
		{kind: KindFile, raw: "d41d8cd98f00b204e9800998ecf8427e", wantKind: KindFile, want: "d41d8cd98f00b204e9800998ecf8427e"},
		{kind: KindX509Certificate, raw: "DA:39:A3:EE:5E:6B:4B:0D:32:55:BF:EF:95:60:18:90:AF:D8:07:09", wantKind: KindX509Certificate, want: "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
		{kind: KindAutonomousSystem, raw: "AS4294967296", err: ErrASNumber},
		{kind: KindAutonomousSystem, raw: "1.65536", err: ErrASNumber},
		{kind: KindAutonomousSystem, raw: "+5", err: ErrASNumber},
		{kind: KindAutonomousSystem, raw: "AS", err: ErrEmpty},
		{kind: KindUserAccount, raw: " jdoe ", wantKind: KindUserAccount, want: "jdoe"},
		{kind: KindUserAgent, raw: "curl/8.0\x00", err: ErrText},
		{kind: KindUserAgent, raw: "\xff", err: ErrText},
		{kind: KindAlertSignature, raw: " \t\n", err: ErrEmpty},
		{kind: "network-traffic", raw: "x", err: ErrUnknownKind},
	}
	for _, c := range cases {
		o, err := Canonicalize(c.kind, c.raw)
		if c.err != nil {
			if !errors.Is(err, c.err) {
				t.Errorf("Canonicalize(%s, %q) = %+v, %v; want error %v", c.kind, c.raw, o, err, c.err)
			} else if p := errcheck.Problem(err.Error(), c.raw); p != "" {
				t.Errorf("Canonicalize(%s, %q): %s", c.kind, c.raw, p)
			}
			continue
		}
		if err != nil || o.Kind != c.wantKind || o.Value != c.want {
			t.Errorf("Canonicalize(%s, %q) = %+v, %v; want %s %q", c.kind, c.raw, o, err, c.wantKind, c.want)
		}
	}
}

func TestParseIP(t *testing.T) {
	o, err := ParseIP(" [::FFFF:192.0.2.1] ")
	if err != nil || o.Kind != KindIPv4Addr || o.Value != "192.0.2.1" {
		t.Fatalf("ParseIP = %+v, %v", o, err)
	}
	o, err = ParseIP("fe80::1%eth0")
	if err != nil || o.Kind != KindIPv6Addr || o.Value != "fe80::1" {
		t.Fatalf("ParseIP = %+v, %v", o, err)
	}
	if _, err := ParseIP("010.1.1.1"); !errors.Is(err, ipaddr.ErrAmbiguous) {
		t.Fatalf("ParseIP(010.1.1.1) error = %v", err)
	}
}

func TestConstructors(t *testing.T) {
	const md5 = "d41d8cd98f00b204e9800998ecf8427e"
	const sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	f, err := NewFile(map[string]string{"sha256": sha256, "md5": "D41D8CD98F00B204E9800998ECF8427E"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if f.Value != md5 || f.Hashes["MD5"] != md5 || f.Hashes["SHA-256"] != sha256 {
		t.Fatalf("NewFile = %+v", f)
	}
	if k, _ := Canonicalize(KindFile, md5); f.Key() != k.Key() {
		t.Error("file with MD5 and SHA-256 must have the MD5-only key (python-stix2 order)")
	}
	for _, bad := range []struct {
		hashes map[string]string
		name   string
		err    error
	}{
		{nil, "", ErrNoIdentity},
		{map[string]string{"SHA-256": md5}, "", ErrHashAlgorithm},
		{map[string]string{"SSDEEP": "3:abc:def"}, "", ErrHashAlgorithm},
		{map[string]string{"sha256": sha256, "SHA-256": "00" + sha256[2:]}, "", ErrHashAlgorithm},
		{nil, "a\nb", ErrText},
		{nil, "  ", ErrEmpty},
	} {
		if _, err := NewFile(bad.hashes, bad.name); !errors.Is(err, bad.err) {
			t.Errorf("NewFile(%v, %q) error = %v; want %v", bad.hashes, bad.name, err, bad.err)
		}
	}
	if _, err := NewX509Certificate(nil, " "); !errors.Is(err, ErrNoIdentity) {
		t.Errorf("NewX509Certificate error = %v", err)
	}
	u, err := NewUserAccount(" UNIX ", " 1001 ", "jdoe")
	if err != nil || u.AccountType != "unix" || u.Value != "1001" || u.AccountLogin != "jdoe" {
		t.Fatalf("NewUserAccount = %+v, %v", u, err)
	}
	if _, err := NewUserAccount("unix", "", " "); !errors.Is(err, ErrNoIdentity) {
		t.Errorf("NewUserAccount error = %v", err)
	}
}

func TestKinds(t *testing.T) {
	seen := map[Kind]bool{}
	for _, k := range Kinds() {
		if !k.Valid() || seen[k] {
			t.Errorf("kind %q invalid or repeated", k)
		}
		seen[k] = true
	}
	if len(seen) != 13 || Kind("x").Valid() || KindHost.IsSTIX() || !KindFile.IsSTIX() {
		t.Error("kind classification wrong")
	}
}
