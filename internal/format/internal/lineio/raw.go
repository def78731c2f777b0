package lineio

// Raw returns what a rejected record keeps of its bytes, for
// format.Record.Raw and RawTruncated: a copy of data (which the readers
// reuse) cut to max bytes, and whether it was cut. A negative max keeps
// nothing (nil, false); otherwise the copy is never nil, even when empty.
func Raw(data []byte, max int) (raw []byte, truncated bool) {
	if max < 0 {
		return nil, false
	}
	if len(data) > max {
		data, truncated = data[:max], true
	}
	raw = make([]byte, len(data))
	copy(raw, data)
	return raw, truncated
}
