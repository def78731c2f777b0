// Command heimdall is the Heimdall telemetry hub: one binary, one file per
// subcommand.
//
//	heimdall serve                 API, ingest and projector in one process
//	heimdall projector             the graph projector alone
//	heimdall projections rebuild   rebuild the graph, vectors or audit trail beside the serving one, then switch
//	heimdall projections status    generations, offsets and counts
//	heimdall ingest FILE...        upload files through the API
//	heimdall token                 print an access token for the tools' client
//	heimdall key KIND VALUE        print an observable's canonical key
//	heimdall keys generate|rotate|status   PII master and data keys
//	heimdall policy show|check     the PII policy
//	heimdall config                list every HEIMDALL_* variable
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// errUsage marks a command-line mistake (exit code 2).
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.LookupEnv)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "heimdall:", err)
		os.Exit(1)
	}
}

const usage = `usage: heimdall <command> [flags]

commands:
  serve                   run the API, ingest, projector, enricher and sync (HEIMDALL_COMPONENTS selects)
  projector               run the graph projector alone
  projections rebuild     rebuild graph|vectors|audit beside the serving one (resumable), then switch readers
  projections status      show graph generations, counts and offsets
  replay [flags] (-to-topic NAME | -to-file PATH | -dry-run)
                          re-emit a range of the event log (by time, offsets, key, type,
                          source, batch) to a topic, or to NDJSON; -h lists the flags
  topics create|list|tail create or check Heimdall's topics (as a Kafka admin); list topics
                          with offsets; decode events live as NDJSON
  ingest [flags] FILE...  upload NDJSON files through the API
  enrich status [-json]   enrichment backlog, results and failures per provider, consumer lag
  enrich request [-provider NAME]... [-reason TEXT] KEY...
                          enrich records again now, ignoring TTLs (through the API)
  sync                    run the peer sync agent alone (HEIMDALL_SYNC_PEERS)
  sync status [-json]     per peer: paused, last contact, lag, imported, checkpoint, last error
  sync pause|resume|reset PEER
                          stop/restart syncing with a peer; forget its checkpoint (catch up anew)
  token                   print an access token for HEIMDALL_CLIENT_ID (for curl)
  login [-open] [-timeout D]
                          sign a person in at the OIDC provider in a browser (code flow + PKCE,
                          loopback redirect) and print their access token
  key [-personal] KIND VALUE
                          print the canonical key of an observable (-personal: the key
                          of a value the PII policy marks personal, from HEIMDALL_PSEUDONYM_KEYS)
  keys generate|rotate|status
                          new random keys; re-wrap the data keys under a new master key
  policy show|check FILE  print the built-in PII policy; validate a policy file
  backup -out DIR [-skip-postgres]
                          write the Kafka topics, a pg_dump and a manifest into DIR
  restore -in DIR [-skip-postgres] [-force]
                          put a backup onto an empty stack (topics, database)
  config                  list every HEIMDALL_* variable with its default
  version                 print the version`

// env looks up environment variables (os.LookupEnv in production).
type env func(string) (string, bool)

func run(ctx context.Context, args []string, stdout, stderr io.Writer, lookup env) error {
	if len(args) == 0 {
		return fmt.Errorf("%w\n%s", errUsage, usage)
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], stderr, lookup, nil)
	case "projector":
		return runServe(ctx, args[1:], stderr, lookup, []string{"projector"})
	case "projections":
		return runProjections(ctx, args[1:], stdout, stderr, lookup)
	case "replay":
		return runReplay(ctx, args[1:], stdout, stderr, lookup)
	case "topics":
		return runTopics(ctx, args[1:], stdout, stderr, lookup)
	case "enrich":
		return runEnrich(ctx, args[1:], stdout, stderr, lookup)
	case "sync":
		return runSync(ctx, args[1:], stdout, stderr, lookup)
	case "ingest":
		return runIngest(ctx, args[1:], stdout, stderr, lookup)
	case "backup":
		return runBackup(ctx, args[1:], stdout, stderr, lookup)
	case "restore":
		return runRestore(ctx, args[1:], stdout, stderr, lookup)
	case "token":
		return runToken(ctx, stdout, lookup)
	case "login":
		return runLogin(ctx, args[1:], stdout, stderr, lookup)
	case "key":
		return runKey(args[1:], stdout, lookup)
	case "keys":
		return runKeys(ctx, args[1:], stdout, lookup)
	case "policy":
		return runPolicy(args[1:], stdout)
	case "config":
		return runConfig(stdout)
	case "version":
		fmt.Fprintln(stdout, "heimdall", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return fmt.Errorf("%w: unknown command %q\n%s", errUsage, args[0], usage)
}

var version = "dev"
