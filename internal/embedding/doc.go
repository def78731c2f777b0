// Package embedding maps domain names and URLs to fixed-length unit vectors
// whose cosine similarity is high for look-alike names (typosquats,
// homoglyphs, combosquats), for nearest-neighbour search with pgvector.
//
// Everything is local and deterministic: no model, no network, no random
// state. The same input gives a bit-identical vector on every run and
// machine.
//
// # Interface
//
// [Embedder] is the small interface (Dim, Version, Embed) that [NGram], the
// built-in embedder, implements and that an external embedding service can
// implement too. Embed takes an observable kind ("domain-name" or "url";
// anything else gives [ErrUnsupportedKind]) and the value. Vectors are L2
// normalised, so cosine similarity is the dot product and pgvector's cosine
// distance (<=>) or negative inner product (<#>) both rank correctly.
//
// [Embedder.Version] names the scheme and its parameters ("ngram-v1-d256").
// Store it next to every vector and recompute the vectors whose version
// differs from the running embedder's: vectors of different versions are not
// comparable.
//
// # NGram scheme (version 1)
//
// Input. A "domain-name" value is canonicalised by the observable domain
// package (UTS #46 mapping, lower case, A-labels, no trailing dot); invalid
// or empty names give [ErrInvalid]. A "url" value is canonicalised by the
// observable urlnorm package (an absolute URL with a scheme is required); its
// host is embedded as a domain name and its path as a light extra feature
// set. A URL whose host is an IP address, or that has no host, gives
// [ErrNoDomain]. The query, fragment, user name and port are ignored, so a
// URL with an empty path ("https://example.com/") has exactly the vector of
// its host name, and URLs and domain names live in one space.
//
// Split. The canonical name is split with golang.org/x/net/publicsuffix
// (ICANN and private sections, so "x.github.io" has suffix "github.io") into
// subdomain labels, the registrable label (the label left of the public
// suffix) and the public suffix: "login.paypal.co.uk" gives "login",
// "paypal", "co.uk". A name that is itself a public suffix, or a single
// label, uses its first label as the registrable label and the rest as the
// suffix. A-labels (xn--) are then converted to U-labels with
// golang.org/x/net/idna.
//
// Skeleton. Each part is folded so that look-alikes coincide: Unicode NFD,
// combining marks dropped ("á" -> "a", "ё" -> "е"), then a small table of
// confusables (see fold.go):
//
//	Cyrillic  а a  е e  һ h  і i  ј j  к k  о o  р p  ԛ q  с c  ѕ s  у y  ү y
//	          х x  ԁ d  ԝ w  ӏ l
//	Greek     α a  γ y  η n  ι i  κ k  ν v  ο o  ρ p  τ t  υ u  χ x  ω w  ϲ c  ϳ j
//	Armenian  օ o  ս u  հ h  ո n  զ q  ց g
//	Latin     ı i  ɩ i  ɑ a  ɡ g  ł l  ƚ l  ǀ l  đ d  ð d  ø o  ħ h  ŧ t  ƒ f  ʋ v
//	digits    0 o  1 l  3 e  4 a  5 s  7 t
//
// and finally, left to right, "rn" -> "m" and "vv" -> "w". Full-width and
// other compatibility forms are already folded by the UTS #46 mapping.
// Letters are not folded onto each other ("i" and "l" stay distinct).
//
// Features. Each feature set ("block") is the character 1-, 2- and 3-grams of
// its text with start and end markers: "pal" gives p a l, ^p pa al l$, ^pa
// pal al$ (weights 0.5 for 1-grams, 1 for 2- and 3-grams). The blocks and
// their weights are:
//
//	registrable label, skeleton              1.0   namespace n
//	registrable label, skeleton, no hyphens  1.0   namespace h
//	subdomain labels (each with its own
//	  markers; a leading "www" dropped)      0.35  namespace n
//	public suffix (dots kept)                0.15  namespace s
//	URL path (slashes trimmed, ASCII lower
//	  case, first 128 bytes; URLs only)      0.2   namespace p
//
// Subdomain labels share the registrable label's namespace so that a brand
// placed in a subdomain ("paypal.com.account-verify.net") still overlaps the
// brand's own name. The hyphen-less block makes "pay-pal" match "paypal"
// strongly while the hyphenated block keeps them distinguishable.
//
// Hashing. Every gram is hashed with FNV-1a 64 over the namespace byte, the
// gram length and the gram's UTF-8 bytes (markers are the bytes 0xFE and
// 0xFF, which never occur in UTF-8), followed by the MurmurHash3 fmix64
// finaliser. The low log2(dim) bits choose the bucket and the top bit the
// sign (the hashing trick with signed buckets, so collisions cancel in
// expectation). Each block is L2-normalised on its own (so the weights are
// relative and independent of name length), scaled by its weight and added;
// the sum is L2-normalised.
//
// Determinism. Hashing uses integer arithmetic only. Floating-point
// arithmetic is done with explicit conversions after every product, which
// the Go specification guarantees prevents fused multiply-add, so amd64,
// arm64 and other platforms produce bit-identical vectors. A golden checksum
// test pins the output. The vectors also depend on tables compiled into
// golang.org/x/net (public suffix list, IDNA) and golang.org/x/text (NFD):
// upgrading those modules can change the vectors of the few names whose
// suffix or Unicode data changed; the golden test pins only its inputs.
//
// Dimension. [NewNGram] accepts a power of two from 64 to 4096 (0 means
// 256). Lower dimensions add hash-collision noise; 256 keeps the look-alike
// margins of the tests (see ngram_test.go) and the pgvector index small.
//
// # Limits
//
// The embedding measures visual and spelling similarity of names only.
// Skeleton folding makes some distinct names identical (paypal.com and
// paypa1.com have cosine 1), so callers must compare values to tell an exact
// match from a look-alike. Look-alikes that share few characters
// (transpositions of short names, different words with the same meaning)
// are found weakly or not at all.
//
// Error messages never include the value.
package embedding
