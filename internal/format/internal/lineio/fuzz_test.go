package lineio

import "testing"

// FuzzReader checks the Reader against the reference split for any input,
// limit (0 to 255), Space set, byte order mark placement, Read size (1 to
// 255 bytes, or whole) and, when failAt is within the input, a read error
// after failAt bytes.
//
// Invariant: Next never panics; it ends with io.EOF, or with a read_error
// *format.Failure after exactly the lines completed before a read error;
// line numbers start at 1 and increase by one; offsets increase and equal
// the byte position of the line's first byte (after a leading byte order
// mark with BOMBeforeFirstLine); Data is the line without its ending (and
// without a leading byte order mark on line 1), or nil and TooLong when
// longer than max; Blank says whether the content holds only Space bytes,
// TooLong or not; memory is bounded by max (the line buffer never grows
// past max+2 bytes, readAll checks).
func FuzzReader(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte, max uint8, jsonSpace, bomBefore bool, chunk uint8, failAt uint16) {
		space := " \t"
		if jsonSpace {
			space = " \t\r"
		}
		check(t, in, int(max), space, bomBefore, int(chunk), int(failAt))
	})
}
