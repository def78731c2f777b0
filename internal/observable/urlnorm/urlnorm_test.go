package urlnorm

import (
	"errors"
	"strings"
	"testing"

	"github.com/heimdallhub/heimdall/internal/observable/domain"
	"github.com/heimdallhub/heimdall/internal/observable/internal/errcheck"
	"github.com/heimdallhub/heimdall/internal/observable/ipaddr"
)

func TestCanonical(t *testing.T) {
	cases := []struct {
		in   string
		want string
		host string
		err  error
	}{
		// Case, default ports, empty path.
		{in: "HTTP://Example.COM", want: "http://example.com/", host: "example.com"},
		{in: "http://example.com:80/", want: "http://example.com/", host: "example.com"},
		{in: "https://example.com:443/a", want: "https://example.com/a", host: "example.com"},
		{in: "https://example.com:80/a", want: "https://example.com:80/a", host: "example.com"},
		{in: "http://example.com:0080/", want: "http://example.com/", host: "example.com"},
		{in: "http://example.com:/", want: "http://example.com/", host: "example.com"},
		{in: "http://example.com:8080", want: "http://example.com:8080/", host: "example.com"},
		{in: "ws://example.com:80/chat", want: "ws://example.com/chat", host: "example.com"},
		{in: "wss://example.com:443", want: "wss://example.com/", host: "example.com"},
		{in: "ftp://ftp.example.com:21/pub/", want: "ftp://ftp.example.com/pub/", host: "ftp.example.com"},
		{in: "  http://example.com/  ", want: "http://example.com/", host: "example.com"},
		// Host canonicalisation.
		{in: "http://ExAmple.COM./x", want: "http://example.com/x", host: "example.com"},
		{in: "http://bücher.example/", want: "http://xn--bcher-kva.example/", host: "xn--bcher-kva.example"},
		{in: "http://b%C3%BCcher.example/", want: "http://xn--bcher-kva.example/", host: "xn--bcher-kva.example"},
		{in: "http://192.0.2.1.:8080/", want: "http://192.0.2.1:8080/", host: "192.0.2.1"},
		{in: "http://192.0.2.1:8080/", want: "http://192.0.2.1:8080/", host: "192.0.2.1"},
		{in: "http://[2001:DB8::1]:443/", want: "http://[2001:db8::1]:443/", host: "2001:db8::1"},
		{in: "http://[fe80::1%25eth0]/", want: "http://[fe80::1]/", host: "fe80::1"},
		{in: "http://[::ffff:192.0.2.1]/", want: "http://192.0.2.1/", host: "192.0.2.1"},
		// Userinfo.
		{in: "http://user:secret@example.com/", want: "http://user@example.com/", host: "example.com"},
		{in: "ftp://:secret@example.com/", want: "ftp://example.com/", host: "example.com"},
		{in: "http://bank.example@evil.example/", want: "http://bank.example@evil.example/", host: "evil.example"},
		{in: "http://a@b@example.com/", want: "http://a%40b@example.com/", host: "example.com"},
		{in: "http://J%6fhn@example.com/", want: "http://John@example.com/", host: "example.com"},
		// Percent-encoding.
		{in: "http://example.com/%7euser/%2f%41", want: "http://example.com/~user/%2FA", host: "example.com"},
		{in: "http://example.com/ü", want: "http://example.com/%C3%BC", host: "example.com"},
		{in: "http://example.com/%c3%bc", want: "http://example.com/%C3%BC", host: "example.com"},
		{in: "http://example.com/a b", want: "http://example.com/a%20b", host: "example.com"},
		{in: "http://example.com/100%", want: "http://example.com/100%25", host: "example.com"},
		{in: "http://example.com/%zz", want: "http://example.com/%25zz", host: "example.com"},
		{in: `http://example.com/a\b`, want: "http://example.com/a%5Cb", host: "example.com"},
		{in: "http://example.com/\x00", want: "http://example.com/%00", host: "example.com"},
		// Dot segments (RFC 3986 5.2.4 examples and encoded dots).
		{in: "http://example.com/a/b/c/./../../g", want: "http://example.com/a/g", host: "example.com"},
		{in: "http://example.com/mid/content=5/../6", want: "http://example.com/mid/6", host: "example.com"},
		{in: "http://example.com/../../x", want: "http://example.com/x", host: "example.com"},
		{in: "http://example.com/a/%2E%2E/b", want: "http://example.com/b", host: "example.com"},
		{in: "http://example.com/a/.", want: "http://example.com/a/", host: "example.com"},
		{in: "http://example.com/a/..", want: "http://example.com/", host: "example.com"},
		{in: "http://example.com//a//b", want: "http://example.com//a//b", host: "example.com"},
		// Query and fragment.
		{in: "http://example.com/?b=2&a=1+1#frag", want: "http://example.com/?b=2&a=1+1", host: "example.com"},
		{in: "http://example.com/?", want: "http://example.com/?", host: "example.com"},
		{in: "http://example.com?q=%7e%2f", want: "http://example.com/?q=~%2F", host: "example.com"},
		{in: "http://example.com/?q=a b&r=ü?/", want: "http://example.com/?q=a%20b&r=%C3%BC?/", host: "example.com"},
		{in: "http://example.com/#", want: "http://example.com/", host: "example.com"},
		// Other schemes.
		{in: "file:///etc/hosts", want: "file:///etc/hosts", host: ""},
		{in: "FILE:///C:/x/../y", want: "file:///C:/y", host: ""},
		{in: "mailto:John@Example.com", want: "mailto:John@Example.com", host: ""},
		{in: "urn:isbn:0451450523", want: "urn:isbn:0451450523", host: ""},
		{in: "foo:/.//bar", want: "foo:/.//bar", host: ""},
		{in: "hxxp://evil.example/x", want: "hxxp://evil.example/x", host: "evil.example"},
		{in: "custom://Example.com", want: "custom://example.com", host: "example.com"},
		// Errors.
		{in: "", err: ErrEmpty},
		{in: "example.com/path", err: ErrScheme},
		{in: "//example.com/path", err: ErrScheme},
		{in: "/path", err: ErrScheme},
		{in: "1http://example.com/", err: ErrScheme},
		{in: "ht tp://example.com/", err: ErrScheme},
		{in: "http:/path", err: ErrHost},
		{in: "http:///path", err: ErrHost},
		{in: "http://:80/", err: ErrHost},
		{in: "http://010.1.1.1/", err: ipaddr.ErrAmbiguous},
		{in: "http://0x7f.1/", err: ipaddr.ErrAmbiguous},
		{in: "http://1.2.3.256/", err: ErrHost},
		{in: "http://[192.0.2.1]/", err: ErrHost},
		{in: "http://[v1.fe]/", err: ErrHost},
		{in: "http://[::1/", err: ErrHost},
		{in: "http://[::1]x/", err: ErrHost},
		{in: "http://2001:db8::1/", err: ErrHost},
		{in: "http://exa mple.com/", err: domain.ErrCharacter},
		{in: "http://exa%20mple.com/", err: domain.ErrCharacter},
		{in: "http://%zz.com/", err: ErrHost},
		{in: "http://*.example.com/", err: ErrHost},
		{in: "http://example.com:65536/", err: ErrPort},
		{in: "http://example.com:8o/", err: ErrPort},
		{in: "http://example.com/" + strings.Repeat("a", MaxLength), err: ErrTooLong},
		{in: "http://example.com/" + strings.Repeat("ü", MaxLength/4), err: ErrTooLong}, // grows when encoded
	}
	for _, c := range cases {
		got, err := Canonical(c.in)
		if c.err != nil {
			if !errors.Is(err, c.err) {
				t.Errorf("Canonical(%q) = %q, %v; want error %v", c.in, got, err, c.err)
			} else if p := errcheck.Problem(err.Error(), c.in); p != "" {
				t.Errorf("Canonical(%q): %s", c.in, p)
			}
			if h := Host(c.in); h != "" {
				t.Errorf("Host(%q) = %q for an invalid URL", c.in, h)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("Canonical(%q) = %q, %v; want %q", c.in, got, err, c.want)
			continue
		}
		if h := Host(c.in); h != c.host {
			t.Errorf("Host(%q) = %q; want %q", c.in, h, c.host)
		}
	}
}

func TestRemoveDotSegments(t *testing.T) {
	// RFC 3986 section 5.2.4 walk-through examples plus edge cases.
	cases := []struct{ in, want string }{
		{"/a/b/c/./../../g", "/a/g"},
		{"mid/content=5/../6", "mid/6"},
		{"", ""},
		{"/", "/"},
		{".", ""},
		{"..", ""},
		{"../a", "a"},
		{"./a", "a"},
		{"/./a", "/a"},
		{"/../a", "/a"},
		{"/a/b/..", "/a/"},
		{"/a/b/.", "/a/b/"},
		{"/a/..b/.c", "/a/..b/.c"},
		{"/.//x", "//x"},
	}
	for _, c := range cases {
		if got := removeDotSegments(c.in); got != c.want {
			t.Errorf("removeDotSegments(%q) = %q; want %q", c.in, got, c.want)
		}
	}
}
