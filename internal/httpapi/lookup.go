package httpapi

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/heimdallhub/heimdall/projections/graph"
)

// KeyFinder turns a raw value into the keys its entity may have: the plain
// canonical key, and the key Heimdall gives it when the PII policy marks it
// personal (derived from its pseudonym). An error means the value is not a
// valid value of the kind; it never quotes the value.
type KeyFinder interface {
	Keys(kind, value string) (plain, personal string, err error)
}

// lookupParams maps the query parameter of GET /v1/entities to a kind.
var lookupParams = []struct{ param, kind string }{
	{"ip", "ip"}, {"domain", "domain-name"}, {"url", "url"}, {"email", "email-addr"}, {"user", "user-account"},
	{"mac", "mac-addr"}, {"hash", "file"}, {"host", "host"},
}

// LookupResponse is the JSON shape of GET /v1/entities?ip=… and friends.
type LookupResponse struct {
	// Matched says which key was found: "plain" (the value is stored as
	// non-personal) or "personal" (keyed by its pseudonym).
	Matched string         `json:"matched"`
	Entity  EntityResponse `json:"entity"`
}

// lookup serves GET /v1/entities?ip=… (or domain, url, email, user, mac,
// hash, host): the value is canonicalised on the way in (an ambiguous or
// invalid one is refused, never silently mismatched) and the entity is
// looked up under its plain key, then its personal key.
func (s *Server) lookup(c echo.Context) error {
	var kind, value string
	n := 0
	for _, p := range lookupParams {
		if v := c.QueryParam(p.param); v != "" {
			kind, value = p.kind, v
			n++
		}
	}
	if n != 1 {
		return problem(http.StatusBadRequest, "name exactly one of ip, domain, url, email, user, mac, hash, host")
	}
	plain, personal, err := s.opts.Keys.Keys(kind, value)
	if err != nil {
		return problem(http.StatusBadRequest, fmt.Sprintf("the value is not a valid %s (ambiguous forms such as 010.1.1.1 are refused)", kind))
	}
	vis := visibility(c)
	for _, k := range []struct{ key, matched string }{{plain, "plain"}, {personal, "personal"}} {
		if k.key == "" {
			continue
		}
		v, err := s.opts.Entities.EntityVisible(c.Request().Context(), k.key, vis)
		if errors.Is(err, graph.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("reading entity: %w", err)
		}
		return c.JSON(http.StatusOK, LookupResponse{Matched: k.matched, Entity: entityResponse(v)})
	}
	return problem(http.StatusNotFound, "no entity with this value")
}
