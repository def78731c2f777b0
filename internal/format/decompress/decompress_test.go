package decompress

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/heimdallhub/heimdall/internal/format"
)

const text = "{\"src_ip\":\"192.0.2.1\",\"n\":1}\n{\"src_ip\":\"192.0.2.2\",\"n\":2}\n"

func gz(t testing.TB, parts ...string) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, p := range parts {
		w := gzip.NewWriter(&b)
		if _, err := w.Write([]byte(p)); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

func zst(t testing.TB, opts []zstd.EOption, parts ...string) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, p := range parts {
		w, err := zstd.NewWriter(&b, opts...)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(p)); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

// readAllFrom opens body and reads it to the end.
func readAllFrom(body io.Reader, enc string, lim Limits) ([]byte, string, error) {
	r, detected, err := Open(body, enc, lim)
	if err != nil {
		return nil, "", err
	}
	defer r.Close()
	out, err := io.ReadAll(r)
	return out, detected, err
}

func failureCode(err error) string {
	var f *format.Failure
	if errors.As(err, &f) {
		return f.Code
	}
	if err != nil {
		return "not a failure: " + err.Error()
	}
	return ""
}

func TestOpen(t *testing.T) {
	truncGz := gz(t, text)
	truncGz = truncGz[:len(truncGz)-5]
	corruptGz := gz(t, text)
	corruptGz[len(corruptGz)-3] ^= 0xff // size in the trailer
	tests := []struct {
		name     string
		body     []byte
		enc      string
		lim      Limits
		want     string // output when no failure
		detected string
		code     string // failure code
	}{
		{name: "identity sniffed", body: []byte(text), want: text},
		{name: "empty sniffed", body: nil, want: ""},
		{name: "short sniffed", body: []byte{0x1f}, want: "\x1f"},
		{name: "identity declared", body: []byte(text), enc: "identity", want: text},
		{name: "identity declared keeps gzip bytes", body: gz(t, text), enc: "identity", want: string(gz(t, text))},
		{name: "gzip declared", body: gz(t, text), enc: "gzip", want: text, detected: Gzip},
		{name: "x-gzip any case", body: gz(t, text), enc: " X-GZIP ", want: text, detected: Gzip},
		{name: "gzip with identity", body: gz(t, text), enc: "identity, gzip", want: text, detected: Gzip},
		{name: "gzip sniffed", body: gz(t, text), want: text, detected: Gzip},
		{name: "gzip members", body: gz(t, text, "", text), want: text + text, detected: Gzip},
		{name: "zstd declared", body: zst(t, nil, text), enc: "zstd", want: text, detected: Zstd},
		{name: "zstd sniffed", body: zst(t, nil, text), want: text, detected: Zstd},
		{name: "zstd frames", body: zst(t, nil, text, text), want: text + text, detected: Zstd},
		{name: "zstd empty frame", body: zst(t, nil, ""), enc: "zstd", want: "", detected: Zstd},
		{name: "unsupported", body: []byte(text), enc: "br", code: CodeUnsupportedEncoding},
		{name: "deflate unsupported", body: []byte(text), enc: "deflate", code: CodeUnsupportedEncoding},
		{name: "stacked", body: gz(t, text), enc: "gzip, zstd", code: CodeUnsupportedEncoding},
		{name: "empty gzip", body: nil, enc: "gzip", code: CodeTruncated},
		{name: "empty zstd", body: nil, enc: "zstd", code: CodeTruncated},
		{name: "short zstd", body: zst(t, nil, text)[:3], enc: "zstd", code: CodeTruncated},
		{name: "not zstd", body: []byte(text), enc: "zstd", code: CodeCorrupt},
		{name: "not gzip", body: []byte(text), enc: "gzip", code: CodeCorrupt},
		{name: "truncated gzip", body: truncGz, code: CodeTruncated},
		{name: "gzip size mismatch", body: corruptGz, code: CodeCorrupt},
		{name: "data after gzip", body: append(gz(t, text), "trailing data"...), code: CodeCorrupt},
		{name: "few bytes after gzip look like a cut member", body: append(gz(t, text), "trail"...), code: CodeTruncated},
		{name: "too large decompressed", body: gz(t, strings.Repeat(text, 100)), lim: Limits{MaxDecompressedBytes: 1000}, code: CodeTooLarge},
		{name: "too large compressed", body: gz(t, strings.Repeat(text, 100)), lim: Limits{MaxCompressedBytes: 50}, code: CodeTooLarge},
		{name: "too large identity", body: []byte(strings.Repeat(text, 100)), lim: Limits{MaxCompressedBytes: 1000}, code: CodeTooLarge},
		{name: "exactly at the limits", body: []byte(text), lim: Limits{MaxCompressedBytes: int64(len(text)), MaxDecompressedBytes: int64(len(text))}, want: text},
		{name: "ratio", body: gz(t, strings.Repeat("a", 1<<20)), lim: Limits{MaxRatio: 100, RatioMinBytes: 64 << 10}, code: CodeBomb},
		{name: "ratio below threshold", body: gz(t, strings.Repeat("a", 1<<20)), lim: Limits{MaxRatio: 100, RatioMinBytes: 2 << 20}, want: strings.Repeat("a", 1<<20), detected: Gzip},
		{name: "zstd window within limit", body: bigWindow(20), lim: Limits{MaxDecoderMemory: 1 << 20}, want: "hello", detected: Zstd},
		{name: "zstd window over limit", body: bigWindow(21), lim: Limits{MaxDecoderMemory: 1 << 20}, code: CodeTooLarge},
		{name: "zstd window over default limit", body: bigWindow(27), code: CodeTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, detected, err := readAllFrom(bytes.NewReader(tt.body), tt.enc, tt.lim)
			if tt.code != "" {
				if got := failureCode(err); got != tt.code {
					t.Fatalf("error %v, want failure %s", err, tt.code)
				}
				var f *format.Failure
				errors.As(err, &f)
				if strings.Contains(f.Reason, "src_ip") || strings.Contains(f.Reason, "trailing") {
					t.Errorf("reason %q quotes input", f.Reason)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tt.want || detected != tt.detected {
				t.Errorf("got %d bytes detected %q, want %d bytes detected %q", len(out), detected, len(tt.want), tt.detected)
			}
		})
	}
}

// bigWindow returns a zstd frame that declares a window of 2^log bytes
// and holds "hello" in a raw block.
func bigWindow(log int) []byte {
	return []byte{0x28, 0xb5, 0x2f, 0xfd, // magic
		0x00,              // frame header descriptor: no content size, not single segment
		byte(log-10) << 3, // window descriptor: exponent, mantissa 0
		0x29, 0x00, 0x00,  // last block, raw, 5 bytes
		'h', 'e', 'l', 'l', 'o'}
}

// TestTruncatedNeverEOF: every proper prefix of a gzip stream (and of a
// zstd stream, but for the limitation documented) fails; none reads as a
// shorter but complete input.
func TestTruncatedNeverEOF(t *testing.T) {
	payload := strings.Repeat(text, 50)
	member := len(gz(t, payload))
	for _, tc := range []struct {
		enc  string
		body []byte
	}{{"gzip", gz(t, payload, payload)}, {"zstd", zst(t, nil, payload)}} {
		full := tc.body
		for n := 0; n < len(full); n++ {
			if tc.enc == "gzip" && n == member {
				continue // between members: complete (documented)
			}
			out, _, err := readAllFrom(bytes.NewReader(full[:n]), tc.enc, Limits{})
			code := failureCode(err)
			if code != CodeTruncated && code != CodeCorrupt {
				t.Fatalf("%s cut at %d of %d: %d bytes, error %v", tc.enc, n, len(full), len(out), err)
			}
		}
	}
	// The documented limitation: a stream cut between frames or members
	// reads as complete.
	two := zst(t, nil, text, text)
	one := len(zst(t, nil, text))
	if out, _, err := readAllFrom(bytes.NewReader(two[:one]), "zstd", Limits{}); err != nil || string(out) != text {
		t.Errorf("zstd cut between frames: %q %v", out, err)
	}
}

// TestTruncatedGzipIsNotEOF reads a cut gzip stream through an
// io.ReadAll-style loop and checks the error is a truncated Failure.
func TestTruncatedGzipIsNotEOF(t *testing.T) {
	body := gz(t, strings.Repeat(text, 1000))
	r, _, err := Open(bytes.NewReader(body[:len(body)/2]), "", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_, err = io.Copy(io.Discard, r)
	if failureCode(err) != CodeTruncated || errors.Is(err, io.EOF) {
		t.Fatalf("error %v", err)
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("failure %v does not wrap io.ErrUnexpectedEOF", err)
	}
	if _, err2 := r.Read(make([]byte, 10)); err2 != err {
		t.Errorf("error not sticky: %v", err2)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// bomb compresses 1 GiB of zeros, streamed into the compressor.
func bomb(t *testing.T, enc string) []byte {
	t.Helper()
	var b bytes.Buffer
	var w io.WriteCloser
	switch enc {
	case Gzip:
		w, _ = gzip.NewWriterLevel(&b, gzip.BestSpeed)
	case Zstd:
		zw, err := zstd.NewWriter(&b, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
		if err != nil {
			t.Fatal(err)
		}
		w = zw
	}
	if _, err := io.Copy(w, io.LimitReader(zeros{}, 1<<30)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestBomb: 1 GiB of zeros, compressed, fails fast with decompression_bomb,
// with little output read and bounded memory.
func TestBomb(t *testing.T) {
	if testing.Short() {
		t.Skip("compresses 1 GiB")
	}
	for _, enc := range []string{Gzip, Zstd} {
		t.Run(enc, func(t *testing.T) {
			body := bomb(t, enc)
			t.Logf("1 GiB of zeros is %d bytes of %s", len(body), enc)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			start := time.Now()
			r, detected, err := Open(bytes.NewReader(body), "", Limits{})
			if err != nil || detected != enc {
				t.Fatalf("open: %v %q", err, detected)
			}
			n, err := io.Copy(io.Discard, r)
			r.Close()
			elapsed := time.Since(start)
			runtime.ReadMemStats(&after)
			if failureCode(err) != CodeBomb {
				t.Fatalf("read %d bytes, error %v; want decompression_bomb", n, err)
			}
			if n > 16<<20 {
				t.Errorf("read %d bytes before the bomb was noticed", n)
			}
			if grown := after.TotalAlloc - before.TotalAlloc; grown > 64<<20 {
				t.Errorf("allocated %d bytes", grown)
			}
			if after.HeapInuse > before.HeapInuse+64<<20 {
				t.Errorf("heap in use grew from %d to %d bytes", before.HeapInuse, after.HeapInuse)
			}
			t.Logf("%s bomb: failed after %d bytes out in %v: %v", enc, n, elapsed, err)
		})
	}
}

// TestBombTooLarge: with the ratio check off, the output limit stops it.
func TestBombTooLarge(t *testing.T) {
	body := gz(t, strings.Repeat("\x00", 8<<20))
	_, _, err := readAllFrom(bytes.NewReader(body), "", Limits{MaxRatio: 1 << 40, MaxDecompressedBytes: 1 << 20})
	if failureCode(err) != CodeTooLarge {
		t.Fatalf("error %v", err)
	}
}

type failingBody struct {
	data []byte
	err  error
}

func (f *failingBody) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestBodyErrors(t *testing.T) {
	// An *http.MaxBytesError stays reachable with errors.As.
	rec := httptest.NewRecorder()
	mb := http.MaxBytesReader(rec, io.NopCloser(bytes.NewReader(gz(t, strings.Repeat(text, 100)))), 40)
	_, _, err := readAllFrom(mb, "gzip", Limits{})
	var tooBig *http.MaxBytesError
	if failureCode(err) != CodeReadError || !errors.As(err, &tooBig) {
		t.Errorf("MaxBytesReader: %v", err)
	}
	for _, enc := range []string{"", "gzip", "zstd"} {
		var body []byte
		switch enc {
		case "":
			body = []byte(text)
		case "gzip":
			body = gz(t, text)
		case "zstd":
			body = zst(t, nil, text)
		}
		half := body[:len(body)/2]
		fail := format.Failf("custom", nil, "x")
		if _, _, err := readAllFrom(&failingBody{half, fail}, enc, Limits{}); failureCode(err) != "custom" {
			t.Errorf("%q: failure from the body: %v", enc, err)
		}
		reset := errors.New("connection reset")
		if _, _, err := readAllFrom(&failingBody{half, reset}, enc, Limits{}); failureCode(err) != CodeReadError || !errors.Is(err, reset) {
			t.Errorf("%q: body error: %v", enc, err)
		}
	}
}

type closeTracker struct {
	io.Reader
	closed bool
}

func (c *closeTracker) Close() error { c.closed = true; return nil }

func TestCloseLeavesBody(t *testing.T) {
	body := &closeTracker{Reader: bytes.NewReader(gz(t, text))}
	r, _, err := Open(body, "", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil || body.closed {
		t.Errorf("close: %v, body closed %v", err, body.closed)
	}
	if _, err := r.Read(make([]byte, 1)); failureCode(err) == "" {
		t.Errorf("read after close: %v", err)
	}
}
