package cef

import (
	"encoding/json"
	"strings"
)

// Syslog holds what a syslog header in front of a CEF or LEEF message says.
// Empty strings are absent parts.
type Syslog struct {
	Priority  string // PRI, 0..191
	Timestamp string // as written
	Host      string
	AppName   string // RFC 5424 APP-NAME, or the RFC 3164 TAG without its [pid]
	ProcID    string // RFC 5424 PROCID, or the RFC 3164 TAG's [pid]
	MsgID     string // RFC 5424 only
	SD        string // RFC 5424 STRUCTURED-DATA, when not "-"
	Raw       string // the whole prefix, when it is neither RFC 3164 nor RFC 5424
}

// Syslog field names.
const (
	FieldSyslogPriority  = "syslog.priority"
	FieldSyslogTimestamp = "syslog.timestamp"
	FieldSyslogHost      = "syslog.host"
	FieldSyslogAppName   = "syslog.app_name"
	FieldSyslogProcID    = "syslog.procid"
	FieldSyslogMsgID     = "syslog.msgid"
	FieldSyslogSD        = "syslog.structured_data"
	FieldSyslogPrefix    = "syslog.prefix"
)

// AddTo stores the parts present into f: syslog.priority (a json.Number),
// syslog.timestamp, syslog.host, syslog.app_name, syslog.procid,
// syslog.msgid, syslog.structured_data, or syslog.prefix for an
// unrecognised prefix. It returns the number of fields added.
func (s Syslog) AddTo(f map[string]any) int {
	n := 0
	add := func(k, v string) {
		if v != "" {
			f[k] = v
			n++
		}
	}
	if s.Priority != "" {
		f[FieldSyslogPriority] = json.Number(s.Priority)
		n++
	}
	add(FieldSyslogTimestamp, s.Timestamp)
	add(FieldSyslogHost, s.Host)
	add(FieldSyslogAppName, s.AppName)
	add(FieldSyslogProcID, s.ProcID)
	add(FieldSyslogMsgID, s.MsgID)
	add(FieldSyslogSD, s.SD)
	add(FieldSyslogPrefix, s.Raw)
	return n
}

var months = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

type token struct{ s, e int }

// tokens splits p on runs of spaces, keeping positions.
func tokens(p string) []token {
	var out []token
	i := 0
	for i < len(p) {
		for i < len(p) && p[i] == ' ' {
			i++
		}
		if i == len(p) {
			break
		}
		j := i
		for j < len(p) && p[j] != ' ' {
			j++
		}
		out = append(out, token{i, j})
		i = j
	}
	return out
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ParseSyslogPrefix parses the text in front of "CEF:" or "LEEF:". It
// recognises RFC 5424 ("<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD ") and
// RFC 3164 ("<PRI>Mmm dd hh:mm:ss HOST TAG: ", PRI optional, also with a
// year after the day or an ISO 8601 timestamp); anything else is kept whole
// in Raw. An empty or blank prefix gives a zero Syslog.
func ParseSyslogPrefix(p string) Syslog {
	p = strings.TrimRight(p, " \t")
	p = strings.TrimSuffix(p, "\uFEFF") // RFC 5424 MSG may start with a BOM
	p = strings.TrimRight(p, " \t")
	if p == "" {
		return Syslog{}
	}
	var s Syslog
	rest := p
	if rest[0] == '<' {
		end := strings.IndexByte(rest, '>')
		if end < 2 || end > 4 || !allDigits(rest[1:end]) {
			return Syslog{Raw: p}
		}
		pri := rest[1:end]
		if len(pri) > 1 && pri[0] == '0' {
			return Syslog{Raw: p}
		}
		n := 0
		for i := 0; i < len(pri); i++ {
			n = n*10 + int(pri[i]-'0')
		}
		if n > 191 {
			return Syslog{Raw: p}
		}
		s.Priority = pri
		rest = rest[end+1:]
	}
	tk := tokens(rest)
	if len(tk) == 0 {
		if s.Priority != "" {
			return s
		}
		return Syslog{Raw: p}
	}
	tok := func(i int) string { return rest[tk[i].s:tk[i].e] }
	// RFC 5424: VERSION right after PRI.
	if s.Priority != "" && tk[0].s == 0 && allDigits(tok(0)) && len(tok(0)) <= 2 {
		if len(tk) < 6 {
			return Syslog{Raw: p}
		}
		nil5424 := func(v string) string {
			if v == "-" {
				return ""
			}
			return v
		}
		s.Timestamp = nil5424(tok(1))
		s.Host = nil5424(tok(2))
		s.AppName = nil5424(tok(3))
		s.ProcID = nil5424(tok(4))
		s.MsgID = nil5424(tok(5))
		if len(tk) > 6 {
			s.SD = nil5424(strings.TrimSpace(rest[tk[6].s:]))
		}
		return s
	}
	// RFC 3164 timestamp: "Mmm dd hh:mm:ss", "Mmm dd yyyy hh:mm:ss", or one
	// ISO 8601 token.
	next := 0
	if isMonth(tok(0)) && len(tk) >= 3 && allDigits(tok(1)) && len(tok(1)) <= 2 {
		last := 2
		if allDigits(tok(2)) && len(tok(2)) == 4 && len(tk) >= 4 {
			last = 3
		}
		if !isClock(tok(last)) {
			return Syslog{Raw: p}
		}
		s.Timestamp = rest[tk[0].s:tk[last].e]
		next = last + 1
	} else if isISODate(tok(0)) {
		s.Timestamp = tok(0)
		next = 1
	} else {
		return Syslog{Raw: p}
	}
	if next < len(tk) {
		s.Host = tok(next)
		next++
	}
	if next < len(tk) {
		tag := strings.TrimSuffix(strings.TrimSpace(rest[tk[next].s:]), ":")
		if i := strings.IndexByte(tag, '['); i > 0 && strings.HasSuffix(tag, "]") {
			s.AppName, s.ProcID = tag[:i], tag[i+1:len(tag)-1]
		} else {
			s.AppName = tag
		}
	}
	return s
}

func isMonth(s string) bool {
	for _, m := range months {
		if s == m {
			return true
		}
	}
	return false
}

// isClock matches hh:mm:ss with an optional fraction.
func isClock(s string) bool {
	if len(s) < 8 || s[2] != ':' || s[5] != ':' {
		return false
	}
	if !allDigits(s[0:2]) || !allDigits(s[3:5]) || !allDigits(s[6:8]) {
		return false
	}
	return len(s) == 8 || (s[8] == '.' && allDigits(s[9:]))
}

// isISODate matches a token starting "yyyy-mm-dd" followed by 'T' or end.
func isISODate(s string) bool {
	if len(s) < 10 || !allDigits(s[0:4]) || s[4] != '-' || !allDigits(s[5:7]) || s[7] != '-' || !allDigits(s[8:10]) {
		return false
	}
	return len(s) == 10 || s[10] == 'T'
}
