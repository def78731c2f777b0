package provider

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"errors"
	"html/template"
	"log/slog"
	"net/http"

	"github.com/heimdallhub/heimdall/deploy/idp/storage"
)

//go:embed templates/*.html
var templateFS embed.FS

// Login form fields and cookie. The form binds the login to the browser
// that loaded it with a double-submit CSRF token.
const (
	FieldAuthRequestID = "id"
	FieldCSRF          = "csrf"
	FieldUsername      = "username"
	FieldPassword      = "password"
	csrfCookie         = "heimdall_idp_csrf"
	maxLoginFormBytes  = 16 << 10
)

type loginPage struct {
	Action   string
	ID       string
	CSRF     string
	Username string
	Error    string
}

// login serves the username/password form of the code flow.
type login struct {
	storage   *storage.Storage
	callback  func(context.Context, string) string
	logger    *slog.Logger
	cookieTTL int
	templates *template.Template
}

func (l *login) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	switch r.Method {
	case http.MethodGet:
		l.form(w, r)
	case http.MethodPost:
		l.submit(w, r)
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (l *login) form(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("authRequestID")
	if !l.storage.LoginRequestValid(id) {
		l.renderError(w, http.StatusBadRequest, "Unknown or expired login request: start again from the application.")
		return
	}
	token := rand.Text()
	http.SetCookie(w, &http.Cookie{
		Name:     csrfCookie,
		Value:    token,
		Path:     storage.LoginPath,
		MaxAge:   l.cookieTTL,
		Secure:   true,
		HttpOnly: true,
		SameSite: http.SameSiteStrictMode,
	})
	l.render(w, http.StatusOK, loginPage{ID: id, CSRF: token})
}

func (l *login) submit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginFormBytes)
	if err := r.ParseForm(); err != nil {
		l.renderError(w, http.StatusBadRequest, "Malformed login form.")
		return
	}
	id := r.PostForm.Get(FieldAuthRequestID)
	csrf := r.PostForm.Get(FieldCSRF)
	cookie, err := r.Cookie(csrfCookie)
	if err != nil || csrf == "" || subtle.ConstantTimeCompare([]byte(cookie.Value), []byte(csrf)) != 1 {
		l.logger.WarnContext(r.Context(), "login rejected", "reason", "csrf token mismatch", "auth_request", id)
		l.renderError(w, http.StatusForbidden, "The login form expired or was not loaded by this browser: start again from the application.")
		return
	}
	username := r.PostForm.Get(FieldUsername)
	err = l.storage.CheckUsernamePassword(username, r.PostForm.Get(FieldPassword), id)
	switch {
	case errors.Is(err, storage.ErrInvalidCredentials):
		// The username is not logged: it may be personal data.
		l.logger.WarnContext(r.Context(), "login failed", "reason", "invalid credentials", "auth_request", id)
		l.render(w, http.StatusUnauthorized, loginPage{ID: id, CSRF: csrf, Username: username, Error: "Invalid username or password."})
		return
	case err != nil:
		l.logger.WarnContext(r.Context(), "login failed", "reason", "unknown or expired auth request", "auth_request", id)
		l.renderError(w, http.StatusBadRequest, "Unknown or expired login request: start again from the application.")
		return
	}
	l.logger.InfoContext(r.Context(), "login succeeded", "auth_request", id)
	http.Redirect(w, r, l.callback(r.Context(), id), http.StatusFound)
}

func (l *login) render(w http.ResponseWriter, status int, page loginPage) {
	page.Action = storage.LoginPath
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := l.templates.ExecuteTemplate(w, "login", page); err != nil {
		l.logger.Error("render login form", "error", err)
	}
}

func (l *login) renderError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := l.templates.ExecuteTemplate(w, "error", msg); err != nil {
		l.logger.Error("render login error", "error", err)
	}
}
