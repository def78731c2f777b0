package spool

import (
	"bufio"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// chunkSize is the plaintext size of one sealed chunk.
const chunkSize = 64 << 10

// ErrTooLarge is returned by Write when the spool would exceed its limit.
var ErrTooLarge = errors.New("spool: upload larger than the limit")

// File is an encrypted spool. Write it fully, Close it for writing with
// Seal, then read it back with Open; Remove deletes it.
type File struct {
	f     *os.File
	aead  cipher.AEAD
	buf   []byte
	n     uint64 // chunks written
	size  int64
	limit int64
	w     *bufio.Writer
}

// Create makes a spool file in dir (os.TempDir if empty) holding at most
// limit plaintext bytes.
func Create(dir string, limit int64) (*File, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, "heimdall-spool-*")
	if err != nil {
		return nil, fmt.Errorf("creating spool file: %w", err)
	}
	return &File{f: f, aead: aead, buf: make([]byte, 0, chunkSize), limit: limit, w: bufio.NewWriterSize(f, chunkSize+64)}, nil
}

// Size is the plaintext size written so far.
func (s *File) Size() int64 { return s.size }

func (s *File) nonce(i uint64) []byte {
	n := make([]byte, s.aead.NonceSize())
	binary.BigEndian.PutUint64(n[len(n)-8:], i)
	return n
}

// Write appends plaintext.
func (s *File) Write(p []byte) (int, error) {
	if s.size+int64(len(p)) > s.limit {
		return 0, ErrTooLarge
	}
	written := 0
	for len(p) > 0 {
		room := chunkSize - len(s.buf)
		take := min(room, len(p))
		s.buf = append(s.buf, p[:take]...)
		p = p[take:]
		written += take
		if len(s.buf) == chunkSize {
			if err := s.flushChunk(); err != nil {
				return written, err
			}
		}
	}
	s.size += int64(written)
	return written, nil
}

// flushChunk seals the buffered plaintext as one chunk: 4-byte length of the
// sealed bytes, then the sealed bytes; the chunk index is the nonce and the
// associated data, so chunks cannot be reordered or dropped silently.
func (s *File) flushChunk() error {
	var ad [8]byte
	binary.BigEndian.PutUint64(ad[:], s.n)
	sealed := s.aead.Seal(nil, s.nonce(s.n), s.buf, ad[:])
	var l [4]byte
	binary.BigEndian.PutUint32(l[:], uint32(len(sealed)))
	if _, err := s.w.Write(l[:]); err != nil {
		return err
	}
	if _, err := s.w.Write(sealed); err != nil {
		return err
	}
	s.n++
	s.buf = s.buf[:0]
	return nil
}

// Seal writes the last chunk (always, even when empty, so truncation is
// detected) and flushes the file.
func (s *File) Seal() error {
	if err := s.flushChunk(); err != nil {
		return err
	}
	return s.w.Flush()
}

// Open returns a reader of the plaintext. It fails on any tampering,
// truncation or reordering.
func (s *File) Open() (io.Reader, error) {
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return &reader{s: s, r: bufio.NewReaderSize(s.f, chunkSize+64), last: s.n}, nil
}

// Remove deletes the spool file.
func (s *File) Remove() error {
	name := s.f.Name()
	_ = s.f.Close()
	return os.Remove(name)
}

type reader struct {
	s    *File
	r    *bufio.Reader
	i    uint64
	last uint64
	cur  []byte
}

func (r *reader) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		if r.i == r.last {
			return 0, io.EOF
		}
		var l [4]byte
		if _, err := io.ReadFull(r.r, l[:]); err != nil {
			return 0, fmt.Errorf("spool: truncated: %w", err)
		}
		n := binary.BigEndian.Uint32(l[:])
		if n > chunkSize+uint32(r.s.aead.Overhead()) {
			return 0, errors.New("spool: corrupt chunk length")
		}
		sealed := make([]byte, n)
		if _, err := io.ReadFull(r.r, sealed); err != nil {
			return 0, fmt.Errorf("spool: truncated: %w", err)
		}
		var ad [8]byte
		binary.BigEndian.PutUint64(ad[:], r.i)
		plain, err := r.s.aead.Open(sealed[:0], r.s.nonce(r.i), sealed, ad[:])
		if err != nil {
			return 0, errors.New("spool: chunk does not authenticate")
		}
		r.i++
		r.cur = plain
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}
