package hash

import (
	"errors"
	"strings"
	"testing"

	"github.com/heimdallhub/heimdall/internal/observable/internal/errcheck"
)

const (
	md5Hex    = "d41d8cd98f00b204e9800998ecf8427e"
	sha1Hex   = "da39a3ee5e6b4b0d3255bfef95601890afd80709"
	sha256Hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	sha512Hex = "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"
)

func TestCanonical(t *testing.T) {
	cases := []struct {
		in   string
		alg  Algorithm
		want string
		err  error
	}{
		{in: md5Hex, alg: MD5, want: md5Hex},
		{in: strings.ToUpper(sha1Hex), alg: SHA1, want: sha1Hex},
		{in: " " + sha256Hex + "\n", alg: SHA256, want: sha256Hex},
		{in: sha512Hex, alg: SHA512, want: sha512Hex},
		{in: "sha256:" + sha256Hex, alg: SHA256, want: sha256Hex},
		{in: "SHA-256=" + strings.ToUpper(sha256Hex), alg: SHA256, want: sha256Hex},
		{in: "MD5:" + md5Hex, alg: MD5, want: md5Hex},
		{in: "sha1: " + sha1Hex, alg: SHA1, want: sha1Hex},
		{in: "SHA-512:" + sha512Hex, alg: SHA512, want: sha512Hex},
		{in: "sha3-256:" + sha256Hex, alg: SHA3256, want: sha256Hex},
		{in: "SHA3-512:" + sha512Hex, alg: SHA3512, want: sha512Hex},
		{in: "DA:39:A3:EE:5E:6B:4B:0D:32:55:BF:EF:95:60:18:90:AF:D8:07:09", alg: SHA1, want: sha1Hex},
		{in: "sha1:da:39:a3:ee:5e:6b:4b:0d:32:55:bf:ef:95:60:18:90:af:d8:07:09", alg: SHA1, want: sha1Hex},
		{in: "", err: ErrEmpty},
		{in: "sha256:", err: ErrEmpty},
		{in: md5Hex[:31] + "g", err: ErrHex},
		{in: md5Hex[:31], err: ErrLength},
		{in: md5Hex + "0", err: ErrLength},
		{in: strings.Repeat("a", 96), err: ErrLength}, // SHA-384 is not supported
		{in: "sha256:" + md5Hex, err: ErrMismatch},
		{in: "crc32:" + md5Hex, err: ErrAlgorithm},
		{in: "da:39a3" + sha1Hex[6:], err: ErrHex},
		{in: "0x" + md5Hex, err: ErrHex},
		{in: strings.Repeat("a", 1000), err: ErrLength},
	}
	for _, c := range cases {
		alg, got, err := Canonical(c.in)
		if c.err != nil {
			if !errors.Is(err, c.err) {
				t.Errorf("Canonical(%q) = %q, %q, %v; want error %v", c.in, alg, got, err, c.err)
			} else if p := errcheck.Problem(err.Error(), c.in); p != "" {
				t.Errorf("Canonical(%q): %s", c.in, p)
			}
			continue
		}
		if err != nil || alg != c.alg || got != c.want {
			t.Errorf("Canonical(%q) = %q, %q, %v; want %q, %q", c.in, alg, got, err, c.alg, c.want)
		}
	}
}

func TestHexLen(t *testing.T) {
	for _, a := range []Algorithm{MD5, SHA1, SHA256, SHA512, SHA3256, SHA3512} {
		if a.HexLen() == 0 {
			t.Errorf("%s: no length", a)
		}
	}
	if Algorithm("CRC32").HexLen() != 0 {
		t.Error("unknown algorithm has a length")
	}
}
