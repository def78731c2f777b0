package embedding

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// homoglyphOf gives, for some Latin letters, a non-Latin look-alike that
// the skeleton folds back.
var homoglyphOf = map[byte]string{
	'a': "а", 'e': "е", 'o': "о", 'p': "р", 'c': "с", 'y': "у", 'x': "х",
	'i': "і", 's': "ѕ", 'd': "ԁ", 'g': "ɡ", 'l': "ӏ", 'v': "ν",
}

// TestProperties checks, on random names from a fixed-seed generator:
//   - replacing a letter by a homoglyph gives the identical vector;
//   - a single-character edit (substitute, insert, delete) of a name of 8
//     to 14 letters keeps cosine >= minEdit with the original;
//   - unrelated random names have a low mean cosine.
func TestProperties(t *testing.T) {
	const (
		n       = 400
		minEdit = 0.5
		maxMean = 0.15
	)
	r := rand.New(rand.NewPCG(1, 2))
	letters := "abcdefghijklmnopqrstuvwxyz"
	randName := func() []byte {
		b := make([]byte, 8+r.IntN(7))
		for i := range b {
			b[i] = letters[r.IntN(len(letters))]
		}
		return b
	}
	e := NewNGram(256)
	dom := func(label string) []float32 { return mustEmbed(t, e, KindDomainName, label+".com") }
	worstEdit, sumUnrel := 2.0, 0.0
	for range n {
		name := randName()
		base := dom(string(name))

		// Homoglyph substitution.
		for i, c := range name {
			if h, ok := homoglyphOf[c]; ok {
				glyph := string(name[:i]) + h + string(name[i+1:])
				if g := dom(glyph); !slices.Equal(g, base) {
					t.Errorf("%q vs %q: homoglyph changes the vector (cosine %.4f)", name, glyph, Cosine(g, base))
				}
				break
			}
		}

		// Single edit.
		i := r.IntN(len(name))
		var edited []byte
		switch r.IntN(3) {
		case 0:
			edited = slices.Clone(name)
			edited[i] = letters[r.IntN(len(letters))]
		case 1:
			edited = slices.Insert(slices.Clone(name), i, letters[r.IntN(len(letters))])
		default:
			edited = slices.Delete(slices.Clone(name), i, i+1)
		}
		s := Cosine(base, dom(string(edited)))
		if s < minEdit {
			t.Errorf("%q vs edit %q: cosine %.4f < %.2f", name, edited, s, minEdit)
		}
		worstEdit = min(worstEdit, s)

		sumUnrel += Cosine(base, dom(string(randName())))
	}
	mean := sumUnrel / n
	if mean > maxMean {
		t.Errorf("mean cosine of unrelated names %.4f > %.2f", mean, maxMean)
	}
	t.Logf("worst single edit %.4f, mean unrelated %.4f", worstEdit, mean)
}
