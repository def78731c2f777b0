package enrichment

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// What the HTTP providers (httpjson, rdap, openaiembed) share: the redirect
// policy, classified transport errors, bounded bodies and bounded JSON.

var (
	errCrossOrigin      = errors.New("redirect to another origin")
	errInsecureRedirect = errors.New("redirect to a URL that is not https")
	errTooManyRedirects = errors.New("too many redirects")
)

// Redirects returns a shallow copy of c (same transport, so the same TLS
// configuration and connection pool) that follows at most max redirects,
// to https URLs only, before c's own policy. With sameOrigin it follows
// them only within the first request's origin (same host and port): Go
// forwards custom headers such as an API key header to any redirect
// target, so for a provider called with a secret a redirect elsewhere is
// refused rather than followed.
func Redirects(c *http.Client, max int, sameOrigin bool) *http.Client {
	cc := *c
	next := c.CheckRedirect
	cc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		switch {
		case sameOrigin && (req.URL.Scheme != "https" || !strings.EqualFold(req.URL.Host, via[0].URL.Host)):
			return errCrossOrigin
		case req.URL.Scheme != "https":
			return errInsecureRedirect
		case len(via) > max:
			return errTooManyRedirects
		case next != nil:
			return next(req, via)
		}
		return nil
	}
	return &cc
}

// TransportError classifies a failed round trip. The reason never holds
// the URL; Err keeps the cause without it.
func TransportError(ctx context.Context, err error) error {
	cause := err
	var ue *url.Error
	if errors.As(err, &ue) {
		cause = ue.Err
	}
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
		return &Error{Class: ClassTimeout, Reason: "the call timed out", Err: cause}
	case ctx.Err() != nil:
		return &Error{Class: ClassCanceled, Reason: "the call was canceled", Err: cause}
	case errors.Is(err, errCrossOrigin):
		return &Error{Class: ClassRejected, Reason: "the provider redirected to another origin", Err: cause}
	case errors.Is(err, errInsecureRedirect):
		return &Error{Class: ClassRejected, Reason: "the provider redirected to a URL that is not https", Err: cause}
	case errors.Is(err, errTooManyRedirects):
		return &Error{Class: ClassRejected, Reason: "the provider redirected too many times", Err: cause}
	case ue != nil && ue.Timeout():
		return &Error{Class: ClassTimeout, Reason: "the call timed out", Err: cause}
	}
	return &Error{Class: ClassUnavailable, Reason: "the provider could not be reached", Err: cause}
}

// CloseBody drains a little of what is left (so the connection can be
// reused) and closes the body.
func CloseBody(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
}

// ReadBody reads at most limit bytes; a longer body is a bad response.
func ReadBody(ctx context.Context, resp *http.Response, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
			return nil, TransportError(ctx, err)
		}
		return nil, &Error{Class: ClassUnavailable, Reason: "reading the answer failed", Err: err}
	}
	if int64(len(b)) > limit {
		return nil, Errorf(ClassBadResponse, "the answer is larger than the configured limit")
	}
	return b, nil
}

// JSONContentType accepts a missing Content-Type, JSON media types
// (application/json, application/rdap+json, any +json) and text/plain,
// which some services send for JSON; anything else (HTML error pages, XML)
// is not JSON.
func JSONContentType(ct string) bool {
	if strings.TrimSpace(ct) == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || mt == "text/json" || mt == "text/plain" ||
		(strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// DecodeJSON unmarshals the one JSON value in b into v, numbers as
// json.Number when numbers is set. The value must nest arrays and objects
// at most maxDepth deep, and nothing may follow it; otherwise, or when it
// does not fit v, the answer is a bad response (notWhat says what it is
// not: "valid JSON", "an embeddings response").
func DecodeJSON(b []byte, maxDepth int, v any, numbers bool, notWhat string) error {
	if !JSONDepthAtMost(b, maxDepth) {
		return Errorf(ClassBadResponse, "the answer is nested too deeply")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if numbers {
		dec.UseNumber()
	}
	if err := dec.Decode(v); err != nil {
		return &Error{Class: ClassBadResponse, Reason: "the answer is not " + notWhat, Err: err}
	}
	if _, err := dec.Token(); err != io.EOF {
		return Errorf(ClassBadResponse, "the answer has data after the JSON value")
	}
	return nil
}

// JSONDepthAtMost reports whether the JSON text b nests arrays and objects
// at most max deep. It does not validate b; the decoder does.
func JSONDepthAtMost(b []byte, max int) bool {
	depth, inString, escaped := 0, false, false
	for _, c := range b {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
			if depth > max {
				return false
			}
		case '}', ']':
			depth--
		}
	}
	return true
}
