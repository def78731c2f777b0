package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/internal/config/devstack"
	"github.com/heimdallhub/heimdall/internal/kafka"
)

// TestEventsOnKafka reads the event log back from the broker: every record
// is keyed by its event's record key, decodes from the schema files, carries
// the caller's W3C trace (traceparent header) and the actor and request id.
func TestEventsOnKafka(t *testing.T) {
	in := newInstance(t)
	in.serve("serve", nil)
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	code, res, err := in.ingest(flowLines(0, 50), "source=trace", map[string]string{
		"traceparent": "00-" + traceID + "-00f067aa0ba902b7-01",
	})
	if err != nil || code != http.StatusOK {
		t.Fatalf("ingest: %d %v", code, err)
	}
	cl, err := kafka.NewClient(in.st.Kafka(in.t, devstack.KafkaAdmin),
		kgo.ConsumeTopics(in.eventsT), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	codec, _ := events.NewCodec()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	seen := 0
	for seen < int(res.Events) {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d events", seen, res.Events)
		}
		fs.EachRecord(func(r *kgo.Record) {
			seen++
			e, err := codec.Decode(r.Value)
			if err != nil {
				t.Fatalf("offset %d: %v", r.Offset, err)
			}
			if string(r.Key) != e.Key || e.Actor.Subject == "" || e.RequestID != res.RequestID || e.BatchID != res.BatchID {
				t.Fatalf("record key %q, event %+v", r.Key, e)
			}
			var tp string
			for _, h := range r.Headers {
				if h.Key == "traceparent" {
					tp = string(h.Value)
				}
			}
			if !strings.HasPrefix(tp, "00-"+traceID+"-") {
				t.Fatalf("traceparent header %q does not continue the request's trace", tp)
			}
		})
	}
}
