package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/heimdallhub/heimdall/internal/kafka"
	"github.com/heimdallhub/heimdall/internal/replay"
	"github.com/heimdallhub/heimdall/internal/schemaregistry"
	"github.com/heimdallhub/heimdall/internal/telemetry"
)

const topicsUsage = `usage: heimdall topics create
       heimdall topics list [-internal]
       heimdall topics tail [-topic T] [-from beginning|end|RFC3339] [-type T]... [-key K]... [-source S]... [-batch B]...

create  the events, rejects and audit topics with Heimdall's settings (or check them), as a
        Kafka principal that may create topics: an administrator, where Heimdall's own principals
        may not (least privilege)
list  every topic with its partitions, replication factor, records and end offsets
tail  decode events as they arrive, one JSON object per line (the shape of
      heimdall replay -to-file), until interrupted; -topic defaults to
      HEIMDALL_KAFKA_EVENTS_TOPIC, -from to end`

// runTopics runs `heimdall topics list|tail`.
func runTopics(ctx context.Context, args []string, stdout, stderr io.Writer, lookup env) error {
	if len(args) == 0 {
		return fmt.Errorf("%w\n%s", errUsage, topicsUsage)
	}
	switch args[0] {
	case "create":
		return topicsCreate(ctx, args[1:], stderr, lookup)
	case "list":
		return topicsList(ctx, args[1:], stdout, stderr, lookup)
	case "tail":
		return topicsTail(ctx, args[1:], stdout, stderr, lookup)
	}
	return fmt.Errorf("%w: unknown topics command %q\n%s", errUsage, args[0], topicsUsage)
}

func topicsCreate(ctx context.Context, args []string, stderr io.Writer, lookup env) error {
	if len(args) > 0 {
		return fmt.Errorf("%w: topics create takes no arguments\n%s", errUsage, topicsUsage)
	}
	cfg, kc, err := replayKafka(lookup, "topics")
	if err != nil {
		return err
	}
	cl, err := kafka.NewClient(kc)
	if err != nil {
		return err
	}
	defer cl.Close()
	return ensureTopics(ctx, cl, cfg, telemetry.NewLogger(stderr, cfg.LogLevel))
}

func topicsList(ctx context.Context, args []string, stdout, stderr io.Writer, lookup env) error {
	fs := flag.NewFlagSet("topics list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	internal := fs.Bool("internal", false, "include Kafka's internal topics")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q\n%s", errUsage, fs.Arg(0), topicsUsage)
	}
	_, kc, err := replayKafka(lookup, "topics")
	if err != nil {
		return err
	}
	infos, err := replay.ListTopics(ctx, kc, *internal)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "TOPIC\tPARTITIONS\tREPLICAS\tRECORDS\tEND OFFSETS")
	for _, ti := range infos {
		ends := make([]string, len(ti.Partitions))
		for i, p := range ti.Partitions {
			ends[i] = fmt.Sprintf("%d:%d", p.Partition, p.End)
		}
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%s\n", ti.Name, len(ti.Partitions), ti.Replicas, ti.Records(), strings.Join(ends, " "))
	}
	return w.Flush()
}

func topicsTail(ctx context.Context, args []string, stdout, stderr io.Writer, lookup env) error {
	fs := flag.NewFlagSet("topics tail", flag.ContinueOnError)
	fs.SetOutput(stderr)
	topic := fs.String("topic", "", "topic (default HEIMDALL_KAFKA_EVENTS_TOPIC)")
	from := fs.String("from", "end", "beginning, end or an RFC 3339 time (the first record at or after it)")
	var sel replayFilterFlags
	sel.register(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q\n%s", errUsage, fs.Arg(0), topicsUsage)
	}
	start, err := replay.ParseStart(*from)
	if err != nil {
		return fmt.Errorf("%w: -from: %v", errUsage, err)
	}
	cfg, kc, err := replayKafka(lookup, "tail")
	if err != nil {
		return err
	}
	if *topic == "" {
		*topic = cfg.Kafka.EventsTopic
	}
	o := replay.TailOptions{Topic: *topic, Start: start, Filter: sel.filter(), Logger: telemetry.NewLogger(stderr, cfg.LogLevel).With("command", "topics tail")}
	if o.Codec, err = schemaregistry.NewCodec(ctx, cfg.SchemaRegistry, cfg.TLS.CAFile, nil); err != nil {
		return fmt.Errorf("loading event schemas: %w", err)
	}
	if err := replay.Tail(ctx, kc, o, stdout); err != nil {
		return fmt.Errorf("tailing %s: %w", *topic, err)
	}
	return nil
}
