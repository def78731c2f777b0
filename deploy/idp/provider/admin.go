package provider

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strings"
)

// RotateKeysResponse is the JSON answer of POST /admin/rotate-keys.
type RotateKeysResponse struct {
	// KID is the new signing key's id.
	KID string `json:"kid"`
	// Alg is the new key's algorithm.
	Alg string `json:"alg"`
	// PreviousKID is the retired key's id; it stays in the JWKS until the
	// tokens it signed have expired.
	PreviousKID string `json:"previous_kid"`
	// Published are the kids of the JWKS after the rotation.
	Published []string `json:"published_kids"`
}

// rotateKeys serves POST /admin/rotate-keys (Authorization: Bearer
// <admin_token>): new tokens are signed by a new key from now on.
func (p *Provider) rotateKeys(w http.ResponseWriter, r *http.Request) {
	if !p.adminAuthorized(r) {
		p.logger.WarnContext(r.Context(), "admin request rejected", "path", r.URL.Path, "remote", r.RemoteAddr)
		w.Header().Set("WWW-Authenticate", `Bearer realm="heimdall-idp-admin"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token"})
		return
	}
	keys := p.storage.Keys()
	previous := keys.Active().ID()
	k, err := keys.Rotate()
	if err != nil {
		p.logger.ErrorContext(r.Context(), "rotate signing keys", "error", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "server_error"})
		return
	}
	resp := RotateKeysResponse{KID: k.ID(), Alg: string(k.SignatureAlgorithm()), PreviousKID: previous}
	for _, pk := range keys.Published() {
		resp.Published = append(resp.Published, pk.ID())
	}
	p.logger.InfoContext(r.Context(), "signing keys rotated", "kid", resp.KID, "previous_kid", previous, "published", len(resp.Published))
	writeJSON(w, http.StatusOK, resp)
}

func (p *Provider) adminAuthorized(r *http.Request) bool {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || p.admin == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(token), []byte(p.admin)) == 1
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
