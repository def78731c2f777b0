package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/heimdallhub/heimdall/internal/config"
	"github.com/heimdallhub/heimdall/internal/kafka"
	"github.com/heimdallhub/heimdall/internal/replay"
	"github.com/heimdallhub/heimdall/internal/schemaregistry"
	"github.com/heimdallhub/heimdall/internal/telemetry"
	"github.com/heimdallhub/heimdall/internal/tlsconf"
)

const replayUsage = `usage: heimdall replay [flags] (-to-topic NAME | -to-file PATH | -dry-run)

Re-emits a range of the event log, read up to the end offsets found at the
start (it never tails). Selection flags combine (all must hold; a repeated
flag matches any of its values):

  -topic NAME              source topic (default HEIMDALL_KAFKA_EVENTS_TOPIC)
  -from-time, -to-time T   RFC 3339; selects from <= t < to
  -time-field F            timestamp (the Kafka record's, default) or recorded_at (the event's)
  -partition N             read only partition N
  -from-offset, -to-offset with -partition; reads from <= offset < to
  -key KEY                 record key (repeatable)
  -type TYPE               event type (repeatable)
  -source NAME             provenance source (repeatable)
  -batch ID                batch id (repeatable)

Output:

  -to-topic NAME   copy the records unchanged (key, value, headers, timestamp)
                   to the same partition numbers of NAME, created with the
                   source's partition count if missing; waits for acks=all
  -to-file PATH    one JSON object per event (decoded envelope and payload,
                   topic, partition, offset, timestamp); - for stdout
  -dry-run         count what would be replayed, per event type; write nothing
  -rate N          at most N records replayed per second
  -quiet           no progress on stderr

Replaying into HEIMDALL_KAFKA_EVENTS_TOPIC changes nothing the projectors
already applied: records keep their event ids, which the projectors apply
idempotently. classification.changed and enrichment.requested events are
never replayed into it (their effect depends on their position in the log,
or starts new provider calls); they are counted as skipped.`

// replayList is a repeatable string flag.
type replayList []string

func (l *replayList) String() string     { return strings.Join(*l, ",") }
func (l *replayList) Set(v string) error { *l = append(*l, v); return nil }

// replayFilterFlags registers the selection flags replay and topics tail
// share.
type replayFilterFlags struct {
	keys, types, sources, batches replayList
}

func (f *replayFilterFlags) register(fs *flag.FlagSet) {
	fs.Var(&f.keys, "key", "record key (repeatable)")
	fs.Var(&f.types, "type", "event type (repeatable)")
	fs.Var(&f.sources, "source", "provenance source (repeatable)")
	fs.Var(&f.batches, "batch", "batch id (repeatable)")
}

func (f *replayFilterFlags) filter() replay.Filter {
	return replay.Filter{Keys: f.keys, Types: f.types, Sources: f.sources, Batches: f.batches}
}

// replayKafka loads the configuration and the Kafka client settings of the
// replay and topics commands.
func replayKafka(lookup env, name string) (config.Config, kafka.Config, error) {
	cfg, err := loadConfig(lookup, []string{config.ComponentProjector})
	if err != nil {
		return cfg, kafka.Config{}, err
	}
	clientTLS, err := tlsconf.Client(cfg.TLS.CAFile)
	if err != nil {
		return cfg, kafka.Config{}, err
	}
	kc, err := kafkaConfig(cfg.Kafka.Brokers, cfg.Kafka.Auth, clientTLS, "heimdall-"+name+"-"+cfg.PeerID, nil)
	return cfg, kc, err
}

func parseReplayTime(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: -%s %q is not an RFC 3339 time (2026-11-27T12:00:00Z)", errUsage, name, v)
	}
	return t, nil
}

// runReplay runs `heimdall replay`.
func runReplay(ctx context.Context, args []string, stdout, stderr io.Writer, lookup env) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, replayUsage) }
	topic := fs.String("topic", "", "source topic (default HEIMDALL_KAFKA_EVENTS_TOPIC)")
	fromTime := fs.String("from-time", "", "RFC 3339: select from this time on")
	toTime := fs.String("to-time", "", "RFC 3339: select before this time")
	timeField := fs.String("time-field", string(replay.TimeRecord), "timestamp or recorded_at")
	partition := fs.Int("partition", -1, "read only this partition")
	fromOffset := fs.Int64("from-offset", -1, "first offset (with -partition)")
	toOffset := fs.Int64("to-offset", -1, "stop before this offset (with -partition)")
	var sel replayFilterFlags
	sel.register(fs)
	toTopic := fs.String("to-topic", "", "destination topic")
	toFile := fs.String("to-file", "", "destination NDJSON file (- for stdout)")
	rate := fs.Float64("rate", 0, "records replayed per second (0: unlimited)")
	dryRun := fs.Bool("dry-run", false, "count, write nothing")
	quiet := fs.Bool("quiet", false, "no progress on stderr")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q\n%s", errUsage, fs.Arg(0), replayUsage)
	}
	switch {
	case *toTopic != "" && *toFile != "":
		return fmt.Errorf("%w: -to-topic and -to-file exclude each other", errUsage)
	case *toTopic == "" && *toFile == "" && !*dryRun:
		return fmt.Errorf("%w: say where to replay to: -to-topic NAME, -to-file PATH or -dry-run\n%s", errUsage, replayUsage)
	}
	field, err := replay.ParseTimeField(*timeField)
	if err != nil {
		return fmt.Errorf("%w: -time-field: %v", errUsage, err)
	}
	from, err := parseReplayTime("from-time", *fromTime)
	if err != nil {
		return err
	}
	to, err := parseReplayTime("to-time", *toTime)
	if err != nil {
		return err
	}
	f := sel.filter()
	f.From, f.To, f.TimeField = from, to, field
	o := replay.Options{Topic: *topic, Filter: f, Rate: *rate, DryRun: *dryRun}
	if *partition >= 0 {
		o.Partitions = []int32{int32(*partition)}
	}
	if (*fromOffset >= 0 || *toOffset >= 0) && *partition < 0 {
		return fmt.Errorf("%w: -from-offset and -to-offset need -partition (offsets are per partition)", errUsage)
	}
	if *fromOffset >= 0 {
		o.FromOffset = *fromOffset
	}
	if *toOffset == 0 {
		return fmt.Errorf("%w: -to-offset 0 selects nothing (the range stops before it)", errUsage)
	}
	if *toOffset > 0 {
		o.ToOffset = *toOffset
	}

	cfg, kc, err := replayKafka(lookup, "replay")
	if err != nil {
		return err
	}
	if o.Topic == "" {
		o.Topic = cfg.Kafka.EventsTopic
	}
	if *toTopic == cfg.Kafka.EventsTopic {
		for _, t := range replay.OwnTopicExcluded {
			if slices.Contains(f.Types, t) {
				return fmt.Errorf("%w: %s events are never replayed into the events topic %s: their effect depends on their position in the log or starts new work", errUsage, t, cfg.Kafka.EventsTopic)
			}
		}
		o.Exclude = replay.OwnTopicExcluded
	}
	if err := o.Validate(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	o.Logger = telemetry.NewLogger(stderr, cfg.LogLevel).With("command", "replay")
	if o.Codec, err = schemaregistry.NewCodec(ctx, cfg.SchemaRegistry, cfg.TLS.CAFile, nil); err != nil {
		return fmt.Errorf("loading event schemas: %w", err)
	}

	// The summary goes to stdout unless stdout carries the events.
	summary := stdout
	var sink replay.Sink
	var fileSink *replay.FileSink
	dest := ""
	switch {
	case *toTopic != "":
		d, err := replay.EnsureDestination(ctx, kc, o.Topic, *toTopic, cfg.Kafka.ReplicationFactor, *dryRun)
		if err != nil {
			return fmt.Errorf("preparing the destination topic: %w", err)
		}
		dest = "topic " + d.Topic
		if d.Created {
			verb := "created"
			if *dryRun {
				verb = "would be created"
			}
			fmt.Fprintf(stderr, "topic %s %s with %d partitions\n", d.Topic, verb, d.Partitions)
		}
		if !*dryRun {
			ts, err := replay.NewTopicSink(kc, *toTopic, replay.TopicSinkOptions{
				Linger: cfg.Kafka.ProducerLinger, MaxBufferedRecs: cfg.Kafka.MaxBufferedRecs, Compression: cfg.Kafka.Compression,
			})
			if err != nil {
				return err
			}
			sink = ts
		}
	case *toFile == "-":
		dest, summary = "standard output", stderr
		if !*dryRun {
			sink = replay.NewWriterSink(stdout)
		}
	case *toFile != "":
		dest = "file " + *toFile
		if !*dryRun {
			fileSink, err = replay.CreateFileSink(*toFile)
			if err != nil {
				return err
			}
			sink = fileSink
		}
	}
	if !*quiet {
		o.Progress = replayProgress(stderr, *dryRun)
	}
	st, runErr := replay.Run(ctx, kc, o, sink)
	if fileSink != nil {
		if err := fileSink.Finish(runErr == nil); err != nil {
			runErr = errors.Join(runErr, err)
		}
	}
	printReplaySummary(summary, o, dest, st, *dryRun)
	if runErr != nil {
		return fmt.Errorf("replaying %s: %w", o.Topic, runErr)
	}
	return nil
}

// replayProgress prints counts and the current rate about every second.
func replayProgress(w io.Writer, dryRun bool) func(replay.Stats) {
	var last replay.Stats
	return func(s replay.Stats) {
		done, prev := s.Written, last.Written
		if dryRun {
			done, prev = s.Matched, last.Matched
		}
		r := 0.0
		if dt := (s.Elapsed - last.Elapsed).Seconds(); dt > 0 {
			r = float64(done-prev) / dt
		}
		fmt.Fprintf(w, "replay: read %d, matched %d, written %d, %.0f records/s\n", s.Read, s.Matched, s.Written, r)
		last = s
	}
}

func printReplaySummary(w io.Writer, o replay.Options, dest string, st replay.Stats, dryRun bool) {
	if dryRun {
		to := ""
		if dest != "" {
			to = " to " + dest
		}
		fmt.Fprintf(w, "dry run: would replay %d of %d records read from %s%s\n", st.Matched, st.Read, o.Topic, to)
	} else {
		fmt.Fprintf(w, "replayed %d of %d records read from %s to %s in %s\n", st.Written, st.Read, o.Topic, dest, st.Elapsed.Round(time.Millisecond))
	}
	for _, t := range replay.SortedTypes(st.ByType) {
		fmt.Fprintf(w, "  %-28s %d\n", t, st.ByType[t])
	}
	if st.Skipped > 0 {
		fmt.Fprintf(w, "skipped %d events of types never replayed into the events topic (%s)\n", st.Skipped, strings.Join(o.Exclude, ", "))
	}
	if st.Undecodable > 0 {
		fmt.Fprintf(w, "skipped %d records that are not events (see the warnings)\n", st.Undecodable)
	}
	if len(st.Ranges) > 0 {
		parts := make([]int32, 0, len(st.Ranges))
		for p := range st.Ranges {
			parts = append(parts, p)
		}
		sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
		var b strings.Builder
		for _, p := range parts {
			fmt.Fprintf(&b, " %d:[%d,%d)", p, st.Ranges[p][0], st.Ranges[p][1])
		}
		fmt.Fprintf(w, "offsets read:%s\n", b.String())
	}
}
