package timestamp

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/heimdallhub/heimdall/internal/observable/internal/errcheck"
)

func TestParse(t *testing.T) {
	berlin := time.FixedZone("CET", 3600) // a fixed zone: no tzdata I/O in tests
	ref := time.Date(2024, 6, 15, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		in   string
		loc  *time.Location
		ref  *time.Time
		want string // RFC 3339 with nanoseconds, UTC
		err  error
	}{
		// RFC 3339 / ISO 8601 / RFC 5424.
		{name: "rfc3339 Z", in: "2006-01-02T15:04:05Z", want: "2006-01-02T15:04:05Z"},
		{name: "rfc3339 lower-case", in: "2006-01-02t15:04:05z", want: "2006-01-02T15:04:05Z"},
		{name: "rfc3339 offset", in: "2006-01-02T15:04:05+07:00", want: "2006-01-02T08:04:05Z"},
		{name: "rfc3339 nanos", in: "2006-01-02T15:04:05.123456789Z", want: "2006-01-02T15:04:05.123456789Z"},
		{name: "rfc3339 one digit", in: "2006-01-02T15:04:05.5Z", want: "2006-01-02T15:04:05.5Z"},
		{name: "rfc3339 12 digits truncated", in: "2006-01-02T15:04:05.123456789999Z", want: "2006-01-02T15:04:05.123456789Z"},
		{name: "rfc3339 -00:00", in: "2006-01-02T15:04:05-00:00", want: "2006-01-02T15:04:05Z"},
		{name: "rfc5424 example", in: "2003-10-11T22:14:15.003Z", want: "2003-10-11T22:14:15.003Z"},
		{name: "rfc5424 offset micro", in: "2003-08-24T05:14:15.000003-07:00", want: "2003-08-24T12:14:15.000003Z"},
		{name: "suricata", in: "2015-10-22T06:31:06.520370+0100", want: "2015-10-22T05:31:06.52037Z"},
		{name: "space separator, comma fraction", in: "2006-01-02 15:04:05,25", loc: time.UTC, want: "2006-01-02T15:04:05.25Z"},
		{name: "offset hours only", in: "2006-01-02T15:04:05-03", want: "2006-01-02T18:04:05Z"},
		{name: "space then UTC", in: "2006-01-02 15:04:05 UTC", want: "2006-01-02T15:04:05Z"},
		{name: "no zone uses loc", in: "2006-01-02T15:04:05", loc: berlin, want: "2006-01-02T14:04:05Z"},
		{name: "zone wins over loc", in: "2006-01-02T15:04:05Z", loc: berlin, want: "2006-01-02T15:04:05Z"},
		{name: "no zone no loc", in: "2006-01-02T15:04:05", err: ErrNoZone},
		{name: "leap day", in: "2024-02-29T00:00:00Z", want: "2024-02-29T00:00:00Z"},
		{name: "not leap", in: "2023-02-29T00:00:00Z", err: ErrRange},
		{name: "month 13", in: "2006-13-02T15:04:05Z", err: ErrRange},
		{name: "hour 24", in: "2006-01-02T24:00:00Z", err: ErrRange},
		{name: "leap second", in: "2016-12-31T23:59:60Z", err: ErrRange},
		{name: "offset 24h", in: "2006-01-02T15:04:05+24:00", err: ErrRange},
		{name: "date only", in: "2006-01-02", err: ErrSyntax},
		{name: "no seconds", in: "2006-01-02T15:04Z", err: ErrSyntax},
		{name: "garbage zone", in: "2006-01-02T15:04:05Q", err: ErrSyntax},
		{name: "bad offset", in: "2006-01-02T15:04:05+7", err: ErrZone},
		{name: "nil value", in: "-", err: ErrEmpty},
		// RFC 1123 / 5322.
		{name: "rfc1123", in: "Mon, 02 Jan 2006 15:04:05 GMT", want: "2006-01-02T15:04:05Z"},
		{name: "rfc1123 MST", in: "Mon, 02 Jan 2006 15:04:05 MST", want: "2006-01-02T22:04:05Z"},
		{name: "rfc1123z", in: "Mon, 02 Jan 2006 15:04:05 -0700", want: "2006-01-02T22:04:05Z"},
		{name: "rfc5322 no weekday one-digit day", in: "2 Jan 2006 15:04:05 +0100", want: "2006-01-02T14:04:05Z"},
		{name: "rfc5322 comment", in: "Tue, 1 Jul 2003 10:52:37 +0200 (CEST)", want: "2003-07-01T08:52:37Z"},
		{name: "rfc5322 no seconds", in: "Mon, 02 Jan 2006 15:04 GMT", want: "2006-01-02T15:04:00Z"},
		{name: "rfc5322 no zone", in: "Mon, 02 Jan 2006 15:04:05", loc: berlin, want: "2006-01-02T14:04:05Z"},
		{name: "wrong weekday", in: "Tue, 02 Jan 2006 15:04:05 GMT", err: ErrRange},
		{name: "ambiguous abbreviation", in: "Mon, 02 Jan 2006 15:04:05 IST", err: ErrZone},
		{name: "iana name", in: "Mon, 02 Jan 2006 15:04:05 Europe/Berlin", err: ErrZone},
		{name: "two-digit year", in: "Mon, 02 Jan 06 15:04:05 GMT", err: ErrSyntax},
		// CEF.
		{name: "cef full", in: "Jan 02 2006 15:04:05.123 GMT", want: "2006-01-02T15:04:05.123Z"},
		{name: "cef no zone", in: "Jan 02 2006 15:04:05", loc: berlin, want: "2006-01-02T14:04:05Z"},
		{name: "cef numeric zone", in: "Jan 02 2006 15:04:05 +0100", want: "2006-01-02T14:04:05Z"},
		{name: "cef GMT offset", in: "Jan 02 2006 15:04:05 GMT+01:00", want: "2006-01-02T14:04:05Z"},
		{name: "cef no year", in: "Jun 14 10:00:00.500 PDT", ref: &ref, want: "2024-06-14T17:00:00.5Z"},
		{name: "cef epoch ms", in: "1258531221486", want: "2009-11-18T08:00:21.486Z"},
		{name: "cef no year no reference", in: "Jan 02 15:04:05", loc: time.UTC, err: ErrNoYear},
		// Syslog RFC 3164.
		{name: "rfc3164", in: "Jun  1 15:04:05", loc: time.UTC, ref: &ref, want: "2024-06-01T15:04:05Z"},
		{name: "rfc3164 dec read in jan", in: "Dec 31 23:59:59", loc: time.UTC, ref: ptr(time.Date(2025, 1, 1, 0, 0, 5, 0, time.UTC)), want: "2024-12-31T23:59:59Z"},
		{name: "rfc3164 jan read in dec", in: "Jan  1 00:00:01", loc: time.UTC, ref: ptr(time.Date(2024, 12, 31, 23, 59, 0, 0, time.UTC)), want: "2025-01-01T00:00:01Z"},
		{name: "rfc3164 feb 29 in 2023", in: "Feb 29 12:00:00", loc: time.UTC, ref: ptr(time.Date(2023, 3, 1, 0, 0, 0, 0, time.UTC)), want: "2024-02-29T12:00:00Z"},
		{name: "rfc3164 loc", in: "Jun  1 15:04:05", loc: berlin, ref: &ref, want: "2024-06-01T14:04:05Z"},
		{name: "rfc3164 feb 30", in: "Feb 30 12:00:00", loc: time.UTC, ref: &ref, err: ErrRange},
		{name: "rfc3164 no loc", in: "Jun  1 15:04:05", ref: &ref, err: ErrNoZone},
		// ctime / UnixDate.
		{name: "ctime", in: "Mon Jan  2 15:04:05 2006", loc: time.UTC, want: "2006-01-02T15:04:05Z"},
		{name: "unixdate", in: "Mon Jan  2 15:04:05 PST 2006", want: "2006-01-02T23:04:05Z"},
		{name: "full month name", in: "January 2 2006 15:04:05 UTC", want: "2006-01-02T15:04:05Z"},
		// Epochs.
		{name: "zeek float", in: "1258531221.486539", want: "2009-11-18T08:00:21.486539Z"},
		{name: "seconds", in: "1258531221", want: "2009-11-18T08:00:21Z"},
		{name: "zero", in: "0", want: "1970-01-01T00:00:00Z"},
		{name: "largest seconds", in: "99999999999", want: "5138-11-16T09:46:39Z"},
		{name: "smallest millis", in: "100000000000", want: "1973-03-03T09:46:40Z"},
		{name: "micros", in: "1258531221486539", want: "2009-11-18T08:00:21.486539Z"},
		{name: "micros fraction", in: "1258531221486539.9", want: "2009-11-18T08:00:21.4865399Z"},
		{name: "nanos", in: "1258531221486539123", want: "2009-11-18T08:00:21.486539123Z"},
		{name: "millis fraction", in: "1258531221486.5", want: "2009-11-18T08:00:21.4865Z"},
		{name: "seconds fraction truncated", in: "1.1234567899", want: "1970-01-01T00:00:01.123456789Z"},
		{name: "epoch ignores loc", in: "0", loc: berlin, want: "1970-01-01T00:00:00Z"},
		{name: "too many digits", in: "12345678901234567890", err: ErrRange},
		{name: "beyond int64", in: "9999999999999999999", err: ErrRange},
		{name: "negative", in: "-1", err: ErrSyntax},
		{name: "exponent", in: "1.2e9", err: ErrSyntax},
		{name: "trailing dot", in: "12.", err: ErrSyntax},
		// Other.
		{name: "empty", in: "  ", err: ErrEmpty},
		{name: "words", in: "yesterday at noon", err: ErrSyntax},
		{name: "too long", in: strings.Repeat("1", 300), err: ErrSyntax},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var opts []Option
			if c.ref != nil {
				opts = append(opts, WithReference(*c.ref))
			}
			got, err := Parse(c.in, c.loc, opts...)
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("Parse(%q) = %v, %v; want error %v", c.in, got, err, c.err)
				}
				if p := errcheck.Problem(err.Error(), c.in); p != "" {
					t.Fatal(p)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q) error = %v", c.in, err)
			}
			if got.Location() != time.UTC {
				t.Errorf("Parse(%q) location = %v; want UTC", c.in, got.Location())
			}
			if s := got.Format(time.RFC3339Nano); s != c.want {
				t.Errorf("Parse(%q) = %s; want %s", c.in, s, c.want)
			}
		})
	}
}

func ptr(t time.Time) *time.Time { return &t }
