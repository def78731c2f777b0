package events

import "time"

// LogRecord is one record of a Kafka topic as consumers see it: where it sits
// in the log and its raw bytes. Value is the single-object encoded event.
type LogRecord struct {
	Topic     string
	Partition int32
	Offset    int64
	Key       []byte
	Value     []byte
	Headers   map[string]string
	Timestamp time.Time
}
