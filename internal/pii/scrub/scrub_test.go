package scrub

import (
	"errors"
	"strings"
	"testing"
)

func allOn(t testing.TB) *Scrubber {
	t.Helper()
	sc, err := New(Config{NationalIDs: NationalIDSchemes()})
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

type found struct {
	kind Kind
	text string
}

func TestFindTable(t *testing.T) {
	sc := allOn(t)
	tests := []struct {
		in   string
		want []found // nil: nothing may be found
	}{
		// e-mail
		{"contact alice.smith+tag@example.co.uk now", []found{{KindEmail, "alice.smith+tag@example.co.uk"}}},
		{"<bob@EXAMPLE.org>", []found{{KindEmail, "bob@EXAMPLE.org"}}},
		{"mail=x_y@sub.domain.io.", []found{{KindEmail, "x_y@sub.domain.io"}}},
		{"user@localhost", nil},
		{"foo@1.2.3.4", nil},
		{"a@b.c", nil},
		{"@example.com", nil},
		{"git@github:org/repo", nil},
		// cards
		{"card 4111 1111 1111 1111 ok", []found{{KindCard, "4111 1111 1111 1111"}}},
		{"card=4111-1111-1111-1111", []found{{KindCard, "4111-1111-1111-1111"}}},
		{"pan:4111111111111111", nil}, // glued to ':' (port-like) is not a token start
		{"pan 5555555555554444.", []found{{KindCard, "5555555555554444"}}},
		{"amex 378282246310005", []found{{KindCard, "378282246310005"}}},
		{"amex 3782 822463 10005", []found{{KindCard, "3782 822463 10005"}}},
		{"disc 6011111111111117", []found{{KindCard, "6011111111111117"}}},
		{"bad luhn 4111111111111112", nil},
		{"zeros 0000 0000 0000 0000", nil},
		{"mixed 4111 1111-1111 1111", nil},
		{"too long 4111 1111 1111 1111 1111", nil},
		{"glued x4111111111111111", nil},
		{"epoch ms 1732700000005", nil},
		{"epoch ns 1732700000000000000", nil},
		// IBAN
		{"iban DE89 3704 0044 0532 0130 00.", []found{{KindIBAN, "DE89 3704 0044 0532 0130 00"}}},
		{"GB82WEST12345698765432", []found{{KindIBAN, "GB82WEST12345698765432"}}},
		{"to NL91ABNA0417164300 today", []found{{KindIBAN, "NL91ABNA0417164300"}}},
		{"fr1420041010050500013m02606", []found{{KindIBAN, "fr1420041010050500013m02606"}}},
		{"DE89 3704 0044 0532 0130 01", nil}, // bad checksum
		{"DE89370400440532013000X", nil},     // too long
		{"XX89370400440532013000", nil},      // unknown country
		// national ids
		{"ssn 123-45-6789", []found{{KindNationalID, "123-45-6789"}}},
		{"ssn 000-12-3456 666-12-3456 900-12-3456 123-00-4567 123-45-0000", nil},
		{"nino AB123456C", []found{{KindNationalID, "AB123456C"}}},
		{"nino AB 12 34 56 C.", []found{{KindNationalID, "AB 12 34 56 C"}}},
		{"BG123456A AB123456E DA123456A", nil},
		{"bsn 111222333", []found{{KindNationalID, "111222333"}}},
		{"bsn 1234.56.782", []found{{KindNationalID, "1234.56.782"}}},
		{"bsn 111222334", nil},
		{"dni 12345678Z", []found{{KindNationalID, "12345678Z"}}},
		{"dni 12345678A", nil},
		// phones
		{"call +1 415 555 2671", []found{{KindPhone, "+1 415 555 2671"}}},
		{"tel=+14155552671", []found{{KindPhone, "+14155552671"}}},
		{"+44 20 7946 0958", []found{{KindPhone, "+44 20 7946 0958"}}},
		{"+49 (0)30 1234567", []found{{KindPhone, "+49 (0)30 1234567"}}},
		{"(415) 555-2671", []found{{KindPhone, "(415) 555-2671"}}},
		{"415-555-2671", []found{{KindPhone, "415-555-2671"}}},
		{"1-800-555-2671", []found{{KindPhone, "1-800-555-2671"}}},
		{"555.234.5678", []found{{KindPhone, "555.234.5678"}}},
		{"020 7946 0958", []found{{KindPhone, "020 7946 0958"}}},
		{"01.23.45.67.89", []found{{KindPhone, "01.23.45.67.89"}}},
		{"06 12 34 56 78", []found{{KindPhone, "06 12 34 56 78"}}},
		{"Mozilla/5.0 (call +44 7700 900123)", []found{{KindPhone, "+44 7700 900123"}}},
		{"(tel 020 7946 0958)", []found{{KindPhone, "020 7946 0958"}}},
		{"0049 30 1234567", []found{{KindPhone, "0049 30 1234567"}}},
		{"+123456", nil},
		{"+0 123 456 789", nil},
		{"123-456-7890", nil}, // NANP area code cannot start with 1
		// user paths
		{"open /home/alice/.ssh/id_rsa", []found{{KindUserName, "alice"}}},
		{"/Users/Bob/Library", []found{{KindUserName, "Bob"}}},
		{`C:\Users\carol\AppData`, []found{{KindUserName, "carol"}}},
		{`c:\users\carol`, []found{{KindUserName, "carol"}}},
		{`"C:\\Users\\dave\\x"`, []found{{KindUserName, "dave"}}},
		{`C:\Users\John Smith\Desktop`, []found{{KindUserName, "John Smith"}}},
		{`C:\Users\John Smith`, []found{{KindUserName, "John"}}},
		{"C:/Users/eve/x", []found{{KindUserName, "eve"}}},
		{"p=%2Fhome%2Ferin%2F.cache", []found{{KindUserName, "erin"}}},
		{"p=%2fusers%2fFrank", []found{{KindUserName, "Frank"}}},
		{"p=C%3A%5CUsers%5Cgina%5C", []found{{KindUserName, "gina"}}},
		{"file:///home/hank/x", []found{{KindUserName, "hank"}}},
		{"/home/$USER/x /home/{user}/ /home/<user>/", nil},
		{`C:\Users\Public\ C:\Users\Default\ C:\Users\%USERNAME%\`, nil},
		{"https://example.com/home/about", nil},
		{"GET /users/42 HTTP/1.1", nil},
		{"/homework/x /home/", nil},
		// must-not-match noise
		{"10.0.0.1 192.168.1.10 255.255.255.0", nil},
		{"192.168.100.200:8080", nil},
		{"2026-11-27T10:00:00Z", nil},
		{"2026-11-27 10:00:00.123+01:00", nil},
		{"27.11.2026 10:00", nil},
		{"version 1.2.3.4 v10.20.30.40 go1.26.8", nil},
		{"epoch 1732700000 1732700000123 17327000001234567", nil},
		{"sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", nil},
		{"md5 d41d8cd98f00b204e9800998ecf8427e", nil},
		{"uuid 123e4567-e89b-12d3-a456-426614174000", nil},
		{"uuid 12345678-1234-1234-1234-123456789012", nil},
		{"localhost:8080 port 443 pid 12345678", nil},
		{"took 1234 5678 ms", nil},
		{"bytes=1,234,567,890", nil},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0.6099.109 Safari/537.36", nil},
		{"trace=4bf92f3577b34da6a3ce929d0e0e4736 span=00f067aa0ba902b7", nil},
	}
	for _, tc := range tests {
		got := sc.Find(tc.in)
		var gf []found
		for _, sp := range got {
			gf = append(gf, found{sp.Kind, tc.in[sp.Start:sp.End]})
		}
		if len(gf) != len(tc.want) {
			t.Errorf("Find(%q) = %v, want %v", tc.in, gf, tc.want)
			continue
		}
		for i := range gf {
			if gf[i] != tc.want[i] {
				t.Errorf("Find(%q)[%d] = %v, want %v", tc.in, i, gf[i], tc.want[i])
			}
		}
	}
}

func TestOverlapResolution(t *testing.T) {
	sc := allOn(t)
	// 123-45-6789 is not NANP (area starts with 1), but 234-56-7890-like
	// shapes are not phones either; SSN must win over any phone reading.
	in := "ssn 234-56-7890 and card 4111111111111111"
	got := sc.Find(in)
	if len(got) != 2 || got[0].Kind != KindNationalID || got[0].Scheme != SchemeUSSSN || got[1].Kind != KindCard {
		t.Fatalf("got %+v", got)
	}
	// resolve: longest wins, then specificity.
	spans := resolve([]Span{
		{Start: 0, End: 10, Kind: KindPhone},
		{Start: 0, End: 10, Kind: KindNationalID},
		{Start: 5, End: 20, Kind: KindPhone},
		{Start: 25, End: 30, Kind: KindEmail},
	})
	if len(spans) != 2 || spans[0] != (Span{Start: 5, End: 20, Kind: KindPhone}) || spans[1].Start != 25 {
		t.Fatalf("resolve = %+v", spans)
	}
}

func TestConfig(t *testing.T) {
	if _, err := New(Config{NationalIDs: []string{"us_ssn", "xx_secret"}}); !errors.Is(err, ErrUnknownScheme) {
		t.Fatalf("err = %v", err)
	} else if strings.Contains(err.Error(), "xx_secret") {
		t.Fatal("error leaks input")
	}
	if _, err := New(Config{Kinds: []Kind{"ssn"}}); !errors.Is(err, ErrUnknownKind) {
		t.Fatalf("err = %v", err)
	}
	if _, err := New(Config{Kinds: []Kind{KindNationalID}}); !errors.Is(err, ErrNationalIDKind) {
		t.Fatalf("err = %v", err)
	}
	if _, err := FindNationalIDs("x", "nope"); !errors.Is(err, ErrUnknownScheme) {
		t.Fatalf("err = %v", err)
	}
	// Only e-mail on: phone and card not reported.
	sc, err := New(Config{Kinds: []Kind{KindEmail}})
	if err != nil {
		t.Fatal(err)
	}
	if got := sc.Find("a@b.io +14155552671 4111111111111111 123-45-6789"); len(got) != 1 || got[0].Kind != KindEmail {
		t.Fatalf("got %+v", got)
	}
	// National ids are off by default.
	sc, _ = New(Config{})
	if got := sc.Find("123-45-6789 AB123456C"); len(got) != 0 {
		t.Fatalf("got %+v", got)
	}
	// CardAnyIIN admits Luhn-valid numbers with unknown prefixes.
	const luhnNoIIN = "7992739871300" // 13 digits, Luhn-valid, prefix 79
	sc, _ = New(Config{Kinds: []Kind{KindCard}})
	if got := sc.Find(luhnNoIIN); len(got) != 0 {
		t.Fatalf("got %+v", got)
	}
	sc, _ = New(Config{Kinds: []Kind{KindCard}, CardAnyIIN: true})
	if got := sc.Find(luhnNoIIN); len(got) != 1 {
		t.Fatalf("got %+v", got)
	}
	if got := NationalIDSchemes(); strings.Join(got, ",") != "es_dni,nl_bsn,uk_nino,us_ssn" {
		t.Fatalf("schemes = %v", got)
	}
}

func TestReplace(t *testing.T) {
	sc := allOn(t)
	in := "user alice@example.com paid with 4111 1111 1111 1111 from /home/alice/ call +44 20 7946 0958 ssn 123-45-6789"
	got := sc.Replace(in, nil)
	want := "user [email] paid with [card] from /home/[user]/ call [phone] ssn [national_id:us_ssn]"
	if got != want {
		t.Fatalf("Replace =\n%q\nwant\n%q", got, want)
	}
	mask := sc.Replace("card 4111111111111111", func(sp Span, v string) string {
		return strings.Repeat("*", len(v)-4) + v[len(v)-4:]
	})
	if mask != "card ************1111" {
		t.Fatalf("mask = %q", mask)
	}
	if s := "nothing here 1.2.3.4"; sc.Replace(s, nil) != s {
		t.Fatal("unchanged input modified")
	}
}

func TestScrubURLQuery(t *testing.T) {
	sc := allOn(t)
	tests := []struct{ in, want string }{
		{"?email=alice%40example.com&page=2", "?email=%5Bemail%5D&page=2"},
		{"q=call+me+%2B1+415+555+2671&x=%zz", "q=call+me+%5Bphone%5D&x=%zz"},
		{"path=%2Fhome%2Fbob%2Fx&keep=a%20b", "path=%2Fhome%2F%5Buser%5D%2Fx&keep=a%20b"},
		{"bare%40x.io&card=4111-1111-1111-1111", "%5Bemail%5D&card=%5Bcard%5D"},
		{"a@b.io", "%5Bemail%5D"},
		{"p=%252Fhome%252Fcarol%252F", "p=%252Fhome%252F%5Buser%5D%252F"}, // double-encoded: raw scan
		{"bad=%zz+alice@example.com", "bad=%25zz+%5Bemail%5D"},
		{"v=100%25+done", "v=100%25+done"},
		{"", ""},
		{"a=&=b&&", "a=&=b&&"},
	}
	for _, tc := range tests {
		if got := sc.ScrubURLQuery(tc.in, nil); got != tc.want {
			t.Errorf("ScrubURLQuery(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
