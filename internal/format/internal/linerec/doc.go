// Package linerec is the record loop of the one-record-per-line format
// readers (cef, leef, eve and zeek's JSON reader).
//
// A reader made by NewReader splits its input into lines with package
// lineio (bounded memory, LF or CRLF endings, a leading BOM dropped) and
// yields one format.Record per line, located by the line's number and
// offset:
//
//   - a line over the line limit is a line_too_long reject, "line N is
//     longer than M bytes", without Raw (its bytes were not kept);
//   - a blank line (spaces and tabs only) and a line the reader's skip
//     function accepts are skipped without a record;
//   - any other line goes to the reader's parse function, whose Fields and
//     Meta, or Reject, make the record; a rejected record keeps a copy
//     of the line's content in Raw (see lineio.Raw and format.Record).
//
// Errors are those of lineio and are sticky.
package linerec
