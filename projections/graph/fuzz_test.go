package graph

import (
	"strings"
	"testing"

	"github.com/heimdallhub/heimdall/events"
)

// FuzzDecodeRecord: whatever bytes a log record holds, decoding never
// panics, and a record that is not usable gets a reason that does not echo
// its bytes.
func FuzzDecodeRecord(f *testing.F) {
	r := newRecs(&testing.T{})
	for _, e := range []events.Event{
		entityEvent(ip.Key, ip.Kind, ip.Value, 1),
		relationEvent("rel", "RESOLVES_TO", dom, ip, 2),
		relationEvent("rel", "bad type", dom, ip, 3),
	} {
		f.Add(r.record(0, e).Value)
	}
	f.Add([]byte{0xc3, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0xff})
	f.Add([]byte("plain text value"))
	f.Fuzz(func(t *testing.T, value []byte) {
		d := decodeRecord(r.codec, events.LogRecord{Topic: "t", Partition: 1, Offset: 7, Value: value})
		switch d.outcome {
		case outcomeEntity, outcomeRelation, outcomeRejected, outcomeUnknown, outcomeClassified, outcomeRetraction:
			if d.reason != "" {
				t.Fatalf("usable record with a reason: %q", d.reason)
			}
		case outcomeUndecodable:
			switch d.reason {
			case reasonNotSingleObject, reasonUnknownSchema, reasonIncompatible, reasonMalformed:
			default:
				t.Fatalf("undecodable record with reason %q", d.reason)
			}
		default:
			if d.reason == "" {
				t.Fatal("unusable record without a reason")
			}
			for _, v := range valuesOf(d.event) {
				if len(v) >= 4 && strings.Contains(d.reason, v) {
					t.Fatalf("reason %q echoes the value %q", d.reason, v)
				}
			}
		}
		if d.tp.Topic != "t" || d.tp.Partition != 1 || d.offset != 7 {
			t.Fatal("location lost")
		}
	})
}

// valuesOf lists the strings of an event that may be personal data.
func valuesOf(e events.Event) []string {
	out := []string{e.Provenance.File, e.Actor.Subject}
	var attrs []events.Attribute
	switch p := e.Payload.(type) {
	case events.EntityObserved:
		out = append(out, p.Value)
		attrs = p.Attributes
	case events.RelationObserved:
		out = append(out, p.Source.Value, p.Target.Value)
		attrs = p.Attributes
	}
	for _, a := range attrs {
		out = append(out, a.Value)
	}
	return out
}
