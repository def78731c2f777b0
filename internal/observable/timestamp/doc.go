// Package timestamp parses the timestamp notations found in security telemetry
// and returns them as UTC time.Time values.
//
// [Parse] recognises, after trimming surrounding white space:
//
//   - RFC 3339 / ISO 8601 / RFC 5424: "2006-01-02T15:04:05Z",
//     "2006-01-02T15:04:05.123456789+07:00", "2006-01-02 15:04:05,5",
//     Suricata's "2015-10-22T06:31:06.520370+0100". The separator may be
//     'T', 't' or a space; the fraction may have any number of digits
//     (separator '.' or ','), truncated to nanoseconds; the zone may be
//     "Z"/"z", ±hh:mm, ±hhmm, ±hh, or after a space any zone token listed
//     below; seconds are required;
//   - RFC 1123 / RFC 5322 date-times, day before month:
//     "Mon, 02 Jan 2006 15:04:05 MST", "2 Jan 2006 15:04:05 -0700"
//     (weekday optional, seconds optional, four-digit year, a trailing
//     comment such as "(CEST)" ignored);
//   - month-first forms, as used by CEF and syslog (RFC 3164):
//     "Jan 02 2006 15:04:05", "Jan 02 2006 15:04:05.000 GMT",
//     "Jan  2 15:04:05", "Jan 02 15:04:05.123 +0100", and the C library's
//     ctime/UnixDate forms "Mon Jan  2 15:04:05 2006",
//     "Mon Jan  2 15:04:05 MST 2006";
//   - epoch numbers, as decimal digits with an optional fraction
//     ("1258531221.486539" as Zeek writes it, "1258531221486" as CEF's
//     epoch milliseconds). The unit is chosen by the magnitude of the
//     integer part n:
//     n < 1e11 seconds (up to year 5138),
//     1e11 <= n < 1e14 milliseconds (1973-03-03 to year 5138),
//     1e14 <= n < 1e17 microseconds,
//     1e17 <= n < 2^63 nanoseconds (up to year 2262).
//     Hence a millisecond epoch before 1973-03-03 would be read as seconds;
//     such values do not occur in the telemetry Heimdall ingests. The
//     fraction is in the chosen unit and truncated to nanoseconds. Negative
//     epochs and exponent notation are rejected. Epochs ignore loc.
//
// Zone tokens: "Z", "UT", "UTC", "GMT"; the North American zones RFC 5322
// names (EST, EDT, CST, CDT, MST, MDT, PST, PDT); numeric offsets ±hhmm,
// ±hh:mm, ±hh, optionally prefixed by "GMT" or "UTC" ("GMT+01:00", as Java
// prints them). Every other abbreviation is rejected with [ErrZone]: most are
// ambiguous (CST, IST, BST each name several zones). IANA names
// ("Europe/Berlin") are rejected too: resolving them needs the time zone
// database, and this package does no I/O - pass the location as loc instead.
//
// The loc argument is the time zone of the source, used only when the string
// carries no zone. It is required for such strings: a nil loc then gives
// [ErrNoZone] rather than silently assuming UTC.
//
// Forms without a year (syslog RFC 3164, CEF "MMM dd HH:mm:ss") need a
// reference time, given with [WithReference] (typically the time the record
// was received, or the file's modification time). The year chosen is the one
// (of the reference's year, the year before and the year after) that puts the
// timestamp closest to the reference, so a "Dec 31" line read on January 1st
// lands in the previous year. Without a reference such input gives
// [ErrNoYear]: using the current time would make parsing depend on when it
// runs, and replays must produce the same keys and events.
//
// A weekday, when present, must match the date. Leap seconds (second 60) are
// rejected.
//
// Error messages never include the input.
package timestamp
