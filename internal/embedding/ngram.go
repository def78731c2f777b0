package embedding

import (
	"fmt"
	"math"
	"net/netip"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"

	"github.com/heimdallhub/heimdall/internal/observable/domain"
	"github.com/heimdallhub/heimdall/internal/observable/urlnorm"
)

// schemeVersion is the version of the feature scheme. Bump it whenever a
// change (table, weights, hashing, parsing) can change any vector.
const schemeVersion = 1

// Dimension limits for NewNGram.
const (
	DefaultDim = 256
	MinDim     = 64
	MaxDim     = 4096
)

// Block weights: each block's features are L2-normalised on their own, then
// scaled by the weight and added to the vector (before the final
// normalisation).
const (
	weightName         = 1.0  // registrable label, hyphens kept
	weightNameNoHyphen = 1.0  // registrable label, hyphens removed
	weightSubdomain    = 0.35 // labels left of the registrable label
	weightSuffix       = 0.15 // public suffix
	weightPath         = 0.2  // URL path
)

// Weights of 1-, 2- and 3-grams inside a block.
var gramWeight = [4]float32{0, 0.5, 1, 1}

// Hash namespaces of the feature sets. Subdomain labels share the name
// namespace so that a brand in a subdomain ("paypal.com.evil.example")
// still overlaps the brand's own registrable label.
const (
	nsName         = 'n'
	nsNameNoHyphen = 'h'
	nsSuffix       = 's'
	nsPath         = 'p'
)

// Boundary markers; negative, so they cannot collide with text.
const (
	markStart rune = -1
	markEnd   rune = -2
)

// Input bounds.
const (
	maxPathBytes = 128
)

// NGram is the character n-gram embedder described in the package
// documentation. It is immutable and safe for concurrent use.
type NGram struct {
	dim     int
	version string
}

var _ Embedder = (*NGram)(nil)

// NewNGram returns an n-gram embedder producing vectors of length dim
// (DefaultDim if dim is 0). It panics unless dim is a power of two between
// MinDim and MaxDim: the dimension is configuration, fixed by the database
// column, not data.
func NewNGram(dim int) *NGram {
	if dim == 0 {
		dim = DefaultDim
	}
	if dim < MinDim || dim > MaxDim || dim&(dim-1) != 0 {
		panic(fmt.Sprintf("embedding: dimension %d is not a power of two in [%d, %d]", dim, MinDim, MaxDim))
	}
	return &NGram{dim: dim, version: fmt.Sprintf("ngram-v%d-d%d", schemeVersion, dim)}
}

// Dim returns the vector length.
func (e *NGram) Dim() int { return e.dim }

// Version returns "ngram-v<scheme>-d<dim>", for example "ngram-v1-d256".
func (e *NGram) Version() string { return e.version }

// Embed returns the unit vector of a domain name or URL. See the package
// documentation for the scheme. Error messages never include the value.
func (e *NGram) Embed(kind, value string) ([]float32, error) {
	switch kind {
	case KindDomainName:
		c, err := domain.Canonical(value)
		if err != nil {
			return nil, fmt.Errorf("embedding: %w: %w", ErrInvalid, err)
		}
		return e.embed(c, "")
	case KindURL:
		u, err := urlnorm.Canonical(value)
		if err != nil {
			return nil, fmt.Errorf("embedding: %w: %w", ErrInvalid, err)
		}
		host := urlnorm.Host(u)
		if host == "" {
			return nil, fmt.Errorf("embedding: %w", ErrNoDomain)
		}
		if _, err := netip.ParseAddr(host); err == nil {
			return nil, fmt.Errorf("embedding: %w", ErrNoDomain)
		}
		return e.embed(host, urlPath(u))
	default:
		return nil, fmt.Errorf("embedding: %w", ErrUnsupportedKind)
	}
}

// urlPath returns the path of a canonical URL with an authority.
func urlPath(u string) string {
	i := strings.Index(u, "://")
	if i < 0 {
		return ""
	}
	rest := u[i+3:]
	j := strings.IndexAny(rest, "/?")
	if j < 0 {
		return ""
	}
	rest = rest[j:]
	if k := strings.IndexByte(rest, '?'); k >= 0 {
		rest = rest[:k]
	}
	return rest
}

// split splits a canonical (A-label) name into the labels left of the
// registrable label, the registrable label and the public suffix. A name
// that is itself a public suffix (or a single label) has its first label as
// the registrable label and the rest as the suffix.
func split(c string) (sub, label, suffix string) {
	ps, _ := publicsuffix.PublicSuffix(c)
	if ps == "" || ps == c || len(ps) >= len(c) || c[len(c)-len(ps)-1] != '.' {
		label, suffix, _ = strings.Cut(c, ".")
		return "", label, suffix
	}
	prefix := c[:len(c)-len(ps)-1]
	if i := strings.LastIndexByte(prefix, '.'); i >= 0 {
		return prefix[:i], prefix[i+1:], ps
	}
	return "", prefix, ps
}

// toUnicode converts the A-labels of s to U-labels.
func toUnicode(s string) (string, error) {
	if !strings.Contains(s, "xn--") {
		return s, nil
	}
	u, err := idna.Punycode.ToUnicode(s)
	if err != nil {
		// Never wrap err: x/net/idna messages quote the label.
		return "", ErrInvalid
	}
	return u, nil
}

// embed computes the vector of canonical host c and URL path path ("" for
// domain names).
func (e *NGram) embed(c, path string) ([]float32, error) {
	sub, label, suffix := split(c)
	var err error
	if label, err = toUnicode(label); err != nil {
		return nil, fmt.Errorf("embedding: %w", err)
	}
	if suffix, err = toUnicode(suffix); err != nil {
		return nil, fmt.Errorf("embedding: %w", err)
	}
	if sub, err = toUnicode(sub); err != nil {
		return nil, fmt.Errorf("embedding: %w", err)
	}

	var scratch [MaxDim]float32
	acc := scratch[:e.dim]
	out := make([]float32, e.dim)
	var rb [256]rune

	// Registrable label, hyphens kept.
	clear(acc)
	seq := skeleton(rb[:0], label)
	e.grams(acc, nsName, seq)
	e.addBlock(out, acc, weightName)

	// Registrable label, hyphens removed.
	clear(acc)
	w := 0
	for _, r := range seq {
		if r != '-' {
			seq[w] = r
			w++
		}
	}
	e.grams(acc, nsNameNoHyphen, seq[:w])
	e.addBlock(out, acc, weightNameNoHyphen)

	// Subdomain labels, each with its own boundaries, a leading "www"
	// dropped.
	if sub != "" {
		clear(acc)
		first := true
		for l := range strings.SplitSeq(sub, ".") {
			if first && l == "www" {
				first = false
				continue
			}
			first = false
			e.grams(acc, nsName, skeleton(rb[:0], l))
		}
		e.addBlock(out, acc, weightSubdomain)
	}

	// Public suffix, dots kept as characters.
	if suffix != "" {
		clear(acc)
		e.grams(acc, nsSuffix, skeleton(rb[:0], suffix))
		e.addBlock(out, acc, weightSuffix)
	}

	// URL path: slashes trimmed, ASCII lower-cased, at most maxPathBytes.
	path = strings.Trim(path, "/")
	if len(path) > maxPathBytes {
		path = path[:maxPathBytes]
	}
	if path != "" {
		clear(acc)
		seq := rb[:0]
		for i := 0; i < len(path); i++ {
			c := path[i]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			seq = append(seq, rune(c))
		}
		e.grams(acc, nsPath, seq)
		e.addBlock(out, acc, weightPath)
	}

	// Final L2 normalisation. Explicit conversions round every product, so
	// no platform fuses multiply-adds and results are bit-identical.
	var ss float64
	for _, v := range out {
		x := float64(v)
		ss += float64(x * x)
	}
	if ss == 0 {
		return nil, fmt.Errorf("embedding: %w", ErrDegenerate)
	}
	n := math.Sqrt(ss)
	for i, v := range out {
		out[i] = float32(float64(v) / n)
	}
	return out, nil
}

// grams adds the 1-, 2- and 3-grams of seq (with boundary markers) to acc.
func (e *NGram) grams(acc []float32, ns byte, seq []rune) {
	n := len(seq)
	if n == 0 {
		return
	}
	at := func(i int) rune {
		switch {
		case i < 0:
			return markStart
		case i >= n:
			return markEnd
		}
		return seq[i]
	}
	var g [3]rune
	for i := 0; i < n; i++ {
		g[0] = seq[i]
		e.add(acc, gramHash(ns, g[:1]), gramWeight[1])
	}
	for i := -1; i < n; i++ {
		g[0], g[1] = at(i), at(i+1)
		e.add(acc, gramHash(ns, g[:2]), gramWeight[2])
	}
	for i := -1; i < n-1; i++ {
		g[0], g[1], g[2] = at(i), at(i+1), at(i+2)
		e.add(acc, gramHash(ns, g[:3]), gramWeight[3])
	}
}

// add adds ±w to the bucket of hash h: the low bits pick the bucket, the
// top bit the sign.
func (e *NGram) add(acc []float32, h uint64, w float32) {
	i := h & uint64(e.dim-1)
	if h>>63 != 0 {
		acc[i] -= w
	} else {
		acc[i] += w
	}
}

// addBlock adds acc, L2-normalised and scaled by weight, to out.
func (e *NGram) addBlock(out, acc []float32, weight float64) {
	var ss float64
	for _, v := range acc {
		x := float64(v)
		ss += float64(x * x)
	}
	if ss == 0 {
		return
	}
	scale := weight / math.Sqrt(ss)
	for i, v := range acc {
		out[i] += float32(scale * float64(v))
	}
}

// FNV-1a 64-bit parameters.
const (
	fnvOffset uint64 = 14695981039346656037
	fnvPrime  uint64 = 1099511628211
)

// gramHash is FNV-1a 64 over the namespace byte, the gram length and the
// gram's UTF-8 bytes (markers as the non-UTF-8 bytes 0xFE and 0xFF),
// followed by the MurmurHash3 fmix64 finaliser so that both the low bits
// (bucket) and the top bit (sign) are well mixed.
func gramHash(ns byte, g []rune) uint64 {
	h := fnvOffset
	h = (h ^ uint64(ns)) * fnvPrime
	h = (h ^ uint64(len(g))) * fnvPrime
	for _, r := range g {
		switch {
		case r == markStart:
			h = (h ^ 0xfe) * fnvPrime
		case r == markEnd:
			h = (h ^ 0xff) * fnvPrime
		case r < utf8.RuneSelf:
			h = (h ^ uint64(r)) * fnvPrime
		default:
			var b [utf8.UTFMax]byte
			n := utf8.EncodeRune(b[:], r)
			for _, c := range b[:n] {
				h = (h ^ uint64(c)) * fnvPrime
			}
		}
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}
