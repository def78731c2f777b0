// Package memregistry is an in-memory server of the part of the Confluent
// Schema Registry API Heimdall uses, for tests: subjects, versions, ids
// shared across subjects for the same schema, per-subject compatibility
// levels checked with Avro schema resolution (BACKWARD, FORWARD, FULL and
// their _TRANSITIVE forms, NONE), optional basic authentication, and a count
// of the lookups by id. It is a stand-in for tests, not a registry to run.
package memregistry

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/hamba/avro/v2"
)

// Registry is the in-memory registry. Its zero value is not usable: use New.
type Registry struct {
	// ConfigNeedsSubject makes PUT /config/{subject} answer 40401 for a
	// subject without versions, as some registries do.
	ConfigNeedsSubject bool
	// User and Password, when set, are required as basic authentication.
	User, Password string

	mu       sync.Mutex
	nextID   int
	ids      map[int]*entry    // id -> schema
	byCanon  map[string]int    // canonical form -> id
	subjects map[string][]int  // subject -> ids by version (index+1)
	levels   map[string]string // subject -> compatibility
	global   string
	lookups  map[int]int // id -> GET /schemas/ids/{id} count
}

type entry struct {
	text   string
	schema avro.Schema
}

// New returns an empty registry whose global compatibility is BACKWARD.
func New() *Registry {
	return &Registry{nextID: 1, ids: map[int]*entry{}, byCanon: map[string]int{}, subjects: map[string][]int{},
		levels: map[string]string{}, global: "BACKWARD", lookups: map[int]int{}}
}

// Lookups returns how often the schema of id was asked for by id.
func (r *Registry) Lookups(id int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lookups[id]
}

// Handler serves the API at the root.
func (r *Registry) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /subjects", r.listSubjects)
	mux.HandleFunc("GET /config", r.getGlobal)
	mux.HandleFunc("GET /config/{subject}", r.getConfig)
	mux.HandleFunc("PUT /config/{subject}", r.putConfig)
	mux.HandleFunc("POST /subjects/{subject}/versions", r.register)
	mux.HandleFunc("GET /subjects/{subject}/versions", r.listVersions)
	mux.HandleFunc("GET /subjects/{subject}/versions/{version}", r.getVersion)
	mux.HandleFunc("GET /schemas/ids/{id}", r.getByID)
	mux.HandleFunc("POST /compatibility/subjects/{subject}/versions/{version}", r.compatible)
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.User != "" || r.Password != "" {
			u, p, ok := req.BasicAuth()
			if !ok || u != r.User || p != r.Password {
				fail(w, http.StatusUnauthorized, 401, "Unauthorized")
				return
			}
		}
		mux.ServeHTTP(w, req)
	})
}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	_ = json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error_code": code, "message": msg})
}

var levels = map[string]bool{"NONE": true, "BACKWARD": true, "BACKWARD_TRANSITIVE": true, "FORWARD": true,
	"FORWARD_TRANSITIVE": true, "FULL": true, "FULL_TRANSITIVE": true}

func (r *Registry) listSubjects(w http.ResponseWriter, _ *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := []string{}
	for s := range r.subjects {
		out = append(out, s)
	}
	sort.Strings(out)
	reply(w, out)
}

func (r *Registry) getGlobal(w http.ResponseWriter, _ *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	reply(w, map[string]string{"compatibilityLevel": r.global})
}

func (r *Registry) getConfig(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	l, ok := r.levels[req.PathValue("subject")]
	if !ok {
		fail(w, http.StatusNotFound, 40408, "Subject does not have subject-level compatibility configured")
		return
	}
	reply(w, map[string]string{"compatibilityLevel": l})
}

func (r *Registry) putConfig(w http.ResponseWriter, req *http.Request) {
	var in struct {
		Compatibility string `json:"compatibility"`
	}
	if err := json.NewDecoder(req.Body).Decode(&in); err != nil || !levels[in.Compatibility] {
		fail(w, http.StatusUnprocessableEntity, 42203, "Invalid compatibility level")
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	subject := req.PathValue("subject")
	if _, ok := r.subjects[subject]; !ok && r.ConfigNeedsSubject {
		fail(w, http.StatusNotFound, 40401, "Subject '"+subject+"' not found.")
		return
	}
	r.levels[subject] = in.Compatibility
	reply(w, map[string]string{"compatibility": in.Compatibility})
}

func (r *Registry) level(subject string) string {
	if l, ok := r.levels[subject]; ok {
		return l
	}
	return r.global
}

func parse(text string) (avro.Schema, error) {
	return avro.ParseWithCache(text, "", &avro.SchemaCache{})
}

// check returns why s may not join subject at its level, or "".
func (r *Registry) check(subject string, s avro.Schema) string {
	ids := r.subjects[subject]
	if len(ids) == 0 {
		return ""
	}
	l := r.level(subject)
	if l == "NONE" {
		return ""
	}
	against := ids[len(ids)-1:]
	if strings.HasSuffix(l, "_TRANSITIVE") {
		against = ids
	}
	compat := avro.NewSchemaCompatibility()
	for _, id := range against {
		old := r.ids[id].schema
		if strings.HasPrefix(l, "BACKWARD") || strings.HasPrefix(l, "FULL") {
			if err := compat.Compatible(s, old); err != nil {
				return fmt.Sprintf("new schema cannot read data written with id %d: %v", id, err)
			}
		}
		if strings.HasPrefix(l, "FORWARD") || strings.HasPrefix(l, "FULL") {
			if err := compat.Compatible(old, s); err != nil {
				return fmt.Sprintf("schema id %d cannot read data written with the new schema: %v", id, err)
			}
		}
	}
	return ""
}

func (r *Registry) register(w http.ResponseWriter, req *http.Request) {
	var in struct {
		Schema     string `json:"schema"`
		SchemaType string `json:"schemaType"`
	}
	if err := json.NewDecoder(req.Body).Decode(&in); err != nil {
		fail(w, http.StatusUnprocessableEntity, 42201, "Invalid request")
		return
	}
	if in.SchemaType != "" && in.SchemaType != "AVRO" {
		fail(w, http.StatusUnprocessableEntity, 42201, "Only Avro schemas are served here")
		return
	}
	s, err := parse(in.Schema)
	if err != nil {
		fail(w, http.StatusUnprocessableEntity, 42201, "Invalid schema: "+err.Error())
		return
	}
	canon := s.String()
	r.mu.Lock()
	defer r.mu.Unlock()
	subject := req.PathValue("subject")
	if id, ok := r.byCanon[canon]; ok {
		for _, have := range r.subjects[subject] {
			if have == id {
				reply(w, map[string]int{"id": id})
				return
			}
		}
	}
	if why := r.check(subject, s); why != "" {
		fail(w, http.StatusConflict, 409, "Schema being registered is incompatible with an earlier schema for subject \""+subject+"\": "+why)
		return
	}
	id, ok := r.byCanon[canon]
	if !ok {
		id = r.nextID
		r.nextID++
		r.ids[id] = &entry{text: in.Schema, schema: s}
		r.byCanon[canon] = id
	}
	r.subjects[subject] = append(r.subjects[subject], id)
	reply(w, map[string]int{"id": id})
}

func (r *Registry) listVersions(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids, ok := r.subjects[req.PathValue("subject")]
	if !ok {
		fail(w, http.StatusNotFound, 40401, "Subject not found.")
		return
	}
	out := make([]int, len(ids))
	for i := range ids {
		out[i] = i + 1
	}
	reply(w, out)
}

func (r *Registry) version(w http.ResponseWriter, subject, v string) (int, int, bool) {
	ids, ok := r.subjects[subject]
	if !ok {
		fail(w, http.StatusNotFound, 40401, "Subject not found.")
		return 0, 0, false
	}
	n := len(ids)
	if v != "latest" && v != "-1" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 || n > len(ids) {
			fail(w, http.StatusNotFound, 40402, "Version not found.")
			return 0, 0, false
		}
	}
	return n, ids[n-1], true
}

func (r *Registry) getVersion(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	subject := req.PathValue("subject")
	n, id, ok := r.version(w, subject, req.PathValue("version"))
	if !ok {
		return
	}
	reply(w, map[string]any{"subject": subject, "version": n, "id": id, "schema": r.ids[id].text})
}

func (r *Registry) getByID(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id, err := strconv.Atoi(req.PathValue("id"))
	e, ok := r.ids[id]
	if err != nil || !ok {
		fail(w, http.StatusNotFound, 40403, "Schema not found")
		return
	}
	r.lookups[id]++
	reply(w, map[string]string{"schema": e.text})
}

func (r *Registry) compatible(w http.ResponseWriter, req *http.Request) {
	var in struct {
		Schema string `json:"schema"`
	}
	if err := json.NewDecoder(req.Body).Decode(&in); err != nil {
		fail(w, http.StatusUnprocessableEntity, 42201, "Invalid request")
		return
	}
	s, err := parse(in.Schema)
	if err != nil {
		fail(w, http.StatusUnprocessableEntity, 42201, "Invalid schema: "+err.Error())
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	subject := req.PathValue("subject")
	if _, _, ok := r.version(w, subject, req.PathValue("version")); !ok {
		return
	}
	reply(w, map[string]bool{"is_compatible": r.check(subject, s) == ""})
}
