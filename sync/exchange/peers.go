package exchange

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"

	"gopkg.in/yaml.v3"
)

// Peer is one configured peer: where to pull its log from, who it is when it
// pulls from us, and what it may receive.
type Peer struct {
	// ID is the peer's stable peer id (its HEIMDALL_PEER_ID).
	ID string `yaml:"id"`
	// URL is the peer's API base URL (https); empty: this peer does not
	// pull from it (the peer only pulls from us).
	URL string `yaml:"url"`
	// ServerName is the name the peer's TLS certificate must carry; empty:
	// the URL's host.
	ServerName string `yaml:"server_name"`
	// Subject is the token subject (the OIDC client) the peer presents
	// when it pulls from us; empty: it may not pull from us.
	Subject string `yaml:"subject"`
	// Export is what the peer may receive from us.
	Export struct {
		MaxClassification string   `yaml:"max_classification"`
		Sources           []string `yaml:"sources"`
	} `yaml:"export"`
	// Paused peers are neither pulled from nor served until resumed (the
	// file, or `heimdall sync pause|resume`, which overrides it).
	Paused bool `yaml:"paused"`
}

// Agreement returns the peer's export agreement under the given levels.
func (p Peer) Agreement(levels []string) Agreement {
	return Agreement{Levels: levels, MaxClassification: p.Export.MaxClassification, Sources: p.Export.Sources}
}

// Host is the TLS server name the peer must present.
func (p Peer) Host() string {
	if p.ServerName != "" {
		return p.ServerName
	}
	u, err := url.Parse(p.URL)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

var validPeerID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// LoadPeers reads a peers file (YAML: `peers: [...]`) and checks it: unique
// ids and subjects, https URLs, a known max_classification for every peer
// that may pull. self is this peer's id, which must not be listed.
func LoadPeers(path, self string, levels []string) ([]Peer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f struct {
		Peers []Peer `yaml:"peers"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var errs []error
	ids, subjects := map[string]bool{}, map[string]bool{}
	for i, p := range f.Peers {
		at := fmt.Sprintf("%s: peers[%d]", path, i)
		switch {
		case !validPeerID.MatchString(p.ID):
			errs = append(errs, fmt.Errorf("%s: id must be 1-64 characters of [A-Za-z0-9._-]", at))
		case p.ID == self:
			errs = append(errs, fmt.Errorf("%s: %s is this peer's own id", at, p.ID))
		case ids[p.ID]:
			errs = append(errs, fmt.Errorf("%s: id %s listed twice", at, p.ID))
		}
		ids[p.ID] = true
		if p.URL != "" {
			if u, err := url.Parse(p.URL); err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" {
				errs = append(errs, fmt.Errorf("%s: url must be an https URL without user info or query", at))
			}
		}
		if p.Subject != "" {
			if subjects[p.Subject] {
				errs = append(errs, fmt.Errorf("%s: subject %s belongs to two peers", at, p.Subject))
			}
			subjects[p.Subject] = true
			if !p.Agreement(levels).Valid() {
				errs = append(errs, fmt.Errorf("%s: export.max_classification must be one of %v (what %s may receive)", at, levels, p.ID))
			}
		}
		if p.URL == "" && p.Subject == "" {
			errs = append(errs, fmt.Errorf("%s: neither url (to pull from it) nor subject (to let it pull)", at))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return f.Peers, nil
}
