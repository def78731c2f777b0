package openaiembed

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/heimdallhub/heimdall/internal/enrichment"
)

var (
	errCrossOrigin      = errors.New("redirect to another origin")
	errTooManyRedirects = errors.New("too many redirects")
)

// withRedirectPolicy returns a shallow copy of c (same transport, so the
// same TLS configuration and connection pool) that follows redirects only
// within the first request's origin (https, same host and port), at most
// maxRedirects times, before c's own policy: the API key must never reach
// another host.
func withRedirectPolicy(c *http.Client) *http.Client {
	cc := *c
	next := c.CheckRedirect
	cc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		first := via[0].URL
		if req.URL.Scheme != "https" || !strings.EqualFold(req.URL.Host, first.Host) {
			return errCrossOrigin
		}
		if len(via) > maxRedirects {
			return errTooManyRedirects
		}
		if next != nil {
			return next(req, via)
		}
		return nil
	}
	return &cc
}

// transportError classifies a failed round trip. The reason never holds the
// URL; Err keeps the cause without it.
func transportError(ctx context.Context, err error) error {
	cause := err
	var ue *url.Error
	if errors.As(err, &ue) {
		cause = ue.Err
	}
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
		return &enrichment.Error{Class: enrichment.ClassTimeout, Reason: "the call timed out", Err: cause}
	case ctx.Err() != nil:
		return &enrichment.Error{Class: enrichment.ClassCanceled, Reason: "the call was canceled", Err: cause}
	case errors.Is(err, errCrossOrigin):
		return &enrichment.Error{Class: enrichment.ClassRejected, Reason: "the provider redirected to another origin", Err: cause}
	case errors.Is(err, errTooManyRedirects):
		return &enrichment.Error{Class: enrichment.ClassRejected, Reason: "the provider redirected too many times", Err: cause}
	case ue != nil && ue.Timeout():
		return &enrichment.Error{Class: enrichment.ClassTimeout, Reason: "the call timed out", Err: cause}
	}
	return &enrichment.Error{Class: enrichment.ClassUnavailable, Reason: "the provider could not be reached", Err: cause}
}

// closeBody drains a little of what is left (so the connection can be
// reused) and closes the body.
func closeBody(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
}

// readBody reads at most limit bytes; a longer body is a bad response.
func readBody(ctx context.Context, resp *http.Response, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
			return nil, transportError(ctx, err)
		}
		return nil, &enrichment.Error{Class: enrichment.ClassUnavailable, Reason: "reading the answer failed", Err: err}
	}
	if int64(len(b)) > limit {
		return nil, enrichment.Errorf(enrichment.ClassBadResponse, "the answer is larger than the configured limit")
	}
	return b, nil
}

// jsonType accepts a missing Content-Type, JSON media types
// (application/json, any +json) and text/plain, which some APIs send for
// JSON; anything else (HTML error pages, XML) is not JSON.
func jsonType(ct string) bool {
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

// shallow reports whether the JSON text b nests arrays and objects at most
// max deep. It does not validate b; the decoder does.
func shallow(b []byte, max int) bool {
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
