package embedding

import (
	"errors"
	"math"

	"github.com/heimdallhub/heimdall/internal/observable"
)

// Embedder turns an observable value into a fixed-length vector. It is the
// interface an external embedding service can implement too.
//
// Implementations must be safe for concurrent use, must return vectors of
// length Dim(), and must change Version() whenever the vectors they return
// for the same input could change, so that stored vectors can be recomputed.
type Embedder interface {
	// Dim is the length of every vector Embed returns.
	Dim() int
	// Version identifies the embedding scheme and its parameters.
	Version() string
	// Embed returns the vector of value, an observable of the given kind
	// ("domain-name" or "url"). Unsupported kinds give an error wrapping
	// ErrUnsupportedKind; values that are not valid for the kind give an
	// error wrapping ErrInvalid.
	Embed(kind, value string) ([]float32, error)
}

// Kinds accepted by NGram.
const (
	KindDomainName = string(observable.KindDomainName) // "domain-name"
	KindURL        = string(observable.KindURL)        // "url"
)

var (
	// ErrUnsupportedKind is returned for observable kinds the embedder
	// does not handle.
	ErrUnsupportedKind = errors.New("unsupported observable kind")
	// ErrInvalid is returned for empty or malformed values.
	ErrInvalid = errors.New("invalid value")
	// ErrNoDomain is returned for a URL whose host is not a domain name
	// (an IP address, or no host at all).
	ErrNoDomain = errors.New("URL host is not a domain name")
	// ErrDegenerate is returned in the (practically impossible) case that
	// all hashed features cancel out and the vector is zero.
	ErrDegenerate = errors.New("all features cancelled out")
)

// Cosine returns the cosine similarity of a and b, in [-1, 1]. It returns 0
// if the lengths differ or either vector is zero. For unit vectors from an
// Embedder it equals the dot product, and pgvector's cosine distance
// (a <=> b) is 1 - Cosine(a, b).
func Cosine(a, b []float32) float64 {
	if len(a) != len(b) {
		return 0
	}
	var dot, na, nb float64
	for i := range a {
		x, y := float64(a[i]), float64(b[i])
		dot += float64(x * y)
		na += float64(x * x)
		nb += float64(y * y)
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}
