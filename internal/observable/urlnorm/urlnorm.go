package urlnorm

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/heimdallhub/heimdall/internal/observable/domain"
	"github.com/heimdallhub/heimdall/internal/observable/ipaddr"
)

// Sentinel errors. Returned errors wrap one of these with context; host
// errors wrap ErrHost and also the domain or ipaddr package error.
var (
	// ErrEmpty reports an empty input.
	ErrEmpty = errors.New("empty input")
	// ErrTooLong reports an input or canonical form over MaxLength octets.
	ErrTooLong = errors.New("URL too long")
	// ErrScheme reports a missing or malformed scheme.
	ErrScheme = errors.New("missing or invalid scheme")
	// ErrHost reports a missing or invalid host.
	ErrHost = errors.New("missing or invalid host")
	// ErrPort reports a port that is not a decimal number up to 65535.
	ErrPort = errors.New("invalid port")
)

// MaxLength is the maximum length in octets of an input and of a canonical
// URL.
const MaxLength = 64 << 10

// defaultPorts are the ports removed by scheme-based normalisation. Every
// scheme listed is "special": it requires a host and an empty path is "/".
var defaultPorts = map[string]int{
	"http":  80,
	"https": 443,
	"ws":    80,
	"wss":   443,
	"ftp":   21,
}

// url holds the canonical components.
type url struct {
	scheme       string
	hasAuthority bool
	user         string // canonical user name, "" if none
	host         string // canonical host as written in a URL ("[v6]" for IPv6)
	bareHost     string // host without brackets
	port         string // canonical port, "" if none or default
	path         string
	query        string
	hasQuery     bool
}

func (u *url) String() string {
	var b strings.Builder
	b.WriteString(u.scheme)
	b.WriteByte(':')
	if u.hasAuthority {
		b.WriteString("//")
		if u.user != "" {
			b.WriteString(u.user)
			b.WriteByte('@')
		}
		b.WriteString(u.host)
		if u.port != "" {
			b.WriteByte(':')
			b.WriteString(u.port)
		}
	}
	b.WriteString(u.path)
	if u.hasQuery {
		b.WriteByte('?')
		b.WriteString(u.query)
	}
	return b.String()
}

// Canonical returns the canonical form of an absolute URL. See the package
// documentation for the rules.
func Canonical(s string) (string, error) {
	u, err := parse(s)
	if err != nil {
		return "", fmt.Errorf("urlnorm: canonicalise: %w", err)
	}
	out := u.String()
	if len(out) > MaxLength {
		return "", fmt.Errorf("urlnorm: canonicalise: %w", ErrTooLong)
	}
	return out, nil
}

// Host returns the canonical host of a URL: a domain name in A-label form or
// an IP address (IPv6 without brackets), never with a port. It returns "" if
// the URL is not valid (as Canonical judges it) or has no host.
func Host(s string) string {
	u, err := parse(s)
	if err != nil || len(u.String()) > MaxLength {
		return ""
	}
	return u.bareHost
}

func parse(s string) (*url, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, ErrEmpty
	}
	if len(s) > MaxLength {
		return nil, ErrTooLong
	}
	u := &url{}

	// Scheme.
	i := strings.IndexAny(s, ":/?#")
	if i <= 0 || s[i] != ':' || !validScheme(s[:i]) {
		return nil, ErrScheme
	}
	u.scheme = strings.ToLower(s[:i])
	rest := s[i+1:]
	_, special := defaultPorts[u.scheme]

	// Fragment: dropped.
	if j := strings.IndexByte(rest, '#'); j >= 0 {
		rest = rest[:j]
	}

	// Authority.
	if strings.HasPrefix(rest, "//") {
		rest = rest[2:]
		j := strings.IndexAny(rest, "/?")
		if j < 0 {
			j = len(rest)
		}
		if err := u.parseAuthority(rest[:j], special); err != nil {
			return nil, err
		}
		rest = rest[j:]
		u.hasAuthority = true
	} else if special {
		return nil, ErrHost
	}

	// Query.
	path := rest
	if j := strings.IndexByte(rest, '?'); j >= 0 {
		path = rest[:j]
		u.query = normalisePercent(rest[j+1:], isQueryChar)
		u.hasQuery = true
	}

	// Path.
	path = normalisePercent(path, isPathChar)
	if u.hasAuthority || strings.HasPrefix(path, "/") {
		path = removeDotSegments(path)
	}
	if !u.hasAuthority && strings.HasPrefix(path, "//") {
		// Keep a path from being read as an authority.
		path = "/." + path
	}
	if special && path == "" {
		path = "/"
	}
	u.path = path
	return u, nil
}

// validScheme reports whether s matches ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
func validScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return s != ""
}

func (u *url) parseAuthority(auth string, special bool) error {
	hostport := auth
	if j := strings.LastIndexByte(auth, '@'); j >= 0 {
		userinfo := auth[:j]
		hostport = auth[j+1:]
		if k := strings.IndexByte(userinfo, ':'); k >= 0 {
			userinfo = userinfo[:k] // the password is dropped
		}
		u.user = normalisePercent(userinfo, isUserChar)
	}

	host, port := hostport, ""
	if strings.HasPrefix(hostport, "[") {
		j := strings.IndexByte(hostport, ']')
		if j < 0 {
			return ErrHost
		}
		host, port = hostport[:j+1], hostport[j+1:]
		if port != "" {
			if port[0] != ':' {
				return ErrHost
			}
			port = port[1:]
		}
	} else if j := strings.LastIndexByte(hostport, ':'); j >= 0 {
		host, port = hostport[:j], hostport[j+1:]
	}

	if err := u.parseHost(host, special); err != nil {
		return err
	}
	if port != "" {
		n, ok := parsePort(port)
		if !ok {
			return ErrPort
		}
		if def, ok := defaultPorts[u.scheme]; !ok || def != n {
			u.port = strconv.Itoa(n)
		}
	}
	return nil
}

// parsePort parses decimal digits (leading zeros allowed) up to 65535.
func parsePort(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
		if n > 65535 {
			return 0, false
		}
	}
	return n, true
}

func (u *url) parseHost(host string, special bool) error {
	if host == "" {
		if special {
			return ErrHost
		}
		return nil
	}
	if strings.HasPrefix(host, "[") {
		inner := host[1 : len(host)-1]
		if !strings.Contains(inner, ":") || strings.ContainsAny(inner, " \t") {
			return ErrHost // IPv4 in brackets, IPvFuture, garbage
		}
		// RFC 6874 writes the zone separator as "%25"; ipaddr drops
		// everything after '%' anyway.
		a, err := ipaddr.Parse(inner)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrHost, err)
		}
		u.bareHost = ipaddr.String(a)
		u.host = u.bareHost
		if a.Is6() {
			u.host = "[" + u.bareHost + "]"
		}
		return nil
	}
	decoded, ok := percentDecode(host)
	if !ok || !utf8.ValidString(decoded) {
		return ErrHost
	}
	if strings.TrimSpace(decoded) != decoded {
		return ErrHost
	}
	d, err := domain.Canonical(decoded)
	if errors.Is(err, domain.ErrNumeric) {
		// One trailing root dot is allowed, as for domain names.
		a, err := ipaddr.Parse(strings.TrimSuffix(decoded, "."))
		if err != nil {
			return fmt.Errorf("%w: %w", ErrHost, err)
		}
		if !a.Is4() {
			return ErrHost
		}
		u.host = ipaddr.String(a)
		u.bareHost = u.host
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrHost, err)
	}
	u.host, u.bareHost = d, d
	return nil
}

// percentDecode decodes every %XX escape; it fails on a malformed escape.
func percentDecode(s string) (string, bool) {
	if !strings.Contains(s, "%") {
		return s, true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			return "", false
		}
		b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
		i += 2
	}
	return b.String(), true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

func isUnreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

func isSubDelim(c byte) bool {
	return strings.IndexByte("!$&'()*+,;=", c) >= 0
}

// isUserChar: user name octets allowed unencoded (userinfo without ':',
// since the password is dropped).
func isUserChar(c byte) bool { return isUnreserved(c) || isSubDelim(c) }

// isPathChar: pchar / "/".
func isPathChar(c byte) bool {
	return isUnreserved(c) || isSubDelim(c) || c == ':' || c == '@' || c == '/'
}

// isQueryChar: pchar / "/" / "?".
func isQueryChar(c byte) bool { return isPathChar(c) || c == '?' }

const upperHex = "0123456789ABCDEF"

// normalisePercent rewrites s so that escapes of unreserved characters are
// decoded, other escapes use upper-case hex, stray '%' becomes "%25", and
// octets not allowed by allowed are percent-encoded.
func normalisePercent(s string, allowed func(byte) bool) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' {
			if i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
				v := unhex(s[i+1])<<4 | unhex(s[i+2])
				if isUnreserved(v) {
					b.WriteByte(v)
				} else {
					b.WriteByte('%')
					b.WriteByte(upperHex[v>>4])
					b.WriteByte(upperHex[v&0xf])
				}
				i += 2
				continue
			}
			b.WriteString("%25")
			continue
		}
		if c < 0x80 && allowed(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(upperHex[c>>4])
		b.WriteByte(upperHex[c&0xf])
	}
	return b.String()
}

// removeDotSegments implements RFC 3986 section 5.2.4. The input buffer is
// only ever re-sliced (never rebuilt), so the work is linear.
func removeDotSegments(in string) string {
	out := make([]byte, 0, len(in))
	removeLast := func() {
		if k := bytes.LastIndexByte(out, '/'); k >= 0 {
			out = out[:k]
		} else {
			out = out[:0]
		}
	}
	for in != "" {
		switch {
		case strings.HasPrefix(in, "../"): // A
			in = in[3:]
		case strings.HasPrefix(in, "./"): // A
			in = in[2:]
		case strings.HasPrefix(in, "/./"): // B: "/./x" -> "/x"
			in = in[2:]
		case in == "/.": // B
			in = "/"
		case strings.HasPrefix(in, "/../"): // C: "/../x" -> "/x"
			in = in[3:]
			removeLast()
		case in == "/..": // C
			in = "/"
			removeLast()
		case in == "." || in == "..": // D
			in = ""
		default: // E
			k := strings.IndexByte(in[1:], '/')
			if k < 0 {
				k = len(in)
			} else {
				k++
			}
			out = append(out, in[:k]...)
			in = in[k:]
		}
	}
	return string(out)
}
