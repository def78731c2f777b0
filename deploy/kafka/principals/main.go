// Command principals makes a Kafka cluster's SCRAM users and ACLs exactly
// what an ACL file says: deploy/stack.sh runs it as the cluster's admin
// after the broker starts. Every principal the file names becomes a
// SCRAM-SHA-512 user whose password is the file kafka-<principal> in the
// secrets folder; each gets exactly the ACLs the file lists for it (ACLs
// of these principals that the file does not list are deleted), so the
// run is idempotent and a narrowed file narrows the cluster.
//
// Usage:
//
//	principals -brokers 127.0.0.1:59092 -ca ca.crt -admin-password-file secrets/kafka-admin \
//	    -secrets secrets -acls deploy/kafka/acls.txt
//
// The ACL file has one ACL per line: principal, resource (topic, group,
// or cluster with the name kafka-cluster), pattern (literal or prefixed),
// name and a comma-separated list of operations; # starts a comment.
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "principals:", err)
		os.Exit(1)
	}
}

// acl is one line of the ACL file.
type acl struct {
	principal string
	resource  kmsg.ACLResourceType
	pattern   kmsg.ACLResourcePatternType
	name      string
	ops       []kmsg.ACLOperation
}

var principalName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)

// parse reads an ACL file.
func parse(r io.Reader) ([]acl, error) {
	var out []acl
	var errs []error
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 5 {
			errs = append(errs, fmt.Errorf("line %d: want principal resource pattern name operations", n))
			continue
		}
		a := acl{principal: f[0], name: f[3]}
		if !principalName.MatchString(a.principal) || a.principal == "admin" {
			errs = append(errs, fmt.Errorf("line %d: bad principal %q", n, a.principal))
		}
		switch f[1] {
		case "topic":
			a.resource = kmsg.ACLResourceTypeTopic
		case "group":
			a.resource = kmsg.ACLResourceTypeGroup
		case "cluster":
			a.resource = kmsg.ACLResourceTypeCluster
			if f[3] != "kafka-cluster" || f[2] != "literal" {
				errs = append(errs, fmt.Errorf("line %d: the cluster is literal kafka-cluster", n))
			}
		default:
			errs = append(errs, fmt.Errorf("line %d: resource must be topic, group or cluster", n))
		}
		switch f[2] {
		case "literal":
			a.pattern = kmsg.ACLResourcePatternTypeLiteral
		case "prefixed":
			a.pattern = kmsg.ACLResourcePatternTypePrefixed
		default:
			errs = append(errs, fmt.Errorf("line %d: pattern must be literal or prefixed", n))
		}
		for _, op := range strings.Split(f[4], ",") {
			o, err := kmsg.ParseACLOperation(op)
			if err != nil || o == kmsg.ACLOperationAll || o == kmsg.ACLOperationAny {
				errs = append(errs, fmt.Errorf("line %d: bad operation %q", n, op))
				continue
			}
			a.ops = append(a.ops, o)
		}
		out = append(out, a)
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, err)
	}
	return out, errors.Join(errs...)
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("principals", flag.ContinueOnError)
	brokers := fs.String("brokers", "", "bootstrap broker host:port")
	caFile := fs.String("ca", "", "PEM CA bundle of the broker's certificate")
	adminPW := fs.String("admin-password-file", "", "file with the password of the SCRAM user admin")
	secrets := fs.String("secrets", "", "folder of the principals' passwords (kafka-<principal>)")
	aclFile := fs.String("acls", "", "the ACL file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	f, err := os.Open(*aclFile)
	if err != nil {
		return err
	}
	acls, err := parse(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", *aclFile, err)
	}
	pem, err := os.ReadFile(*caFile)
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return fmt.Errorf("%s: no certificate", *caFile)
	}
	pw, err := os.ReadFile(*adminPW)
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(*brokers),
		kgo.DialTLSConfig(&tls.Config{MinVersion: tls.VersionTLS13, RootCAs: roots}),
		kgo.SASL(scram.Auth{User: "admin", Pass: strings.TrimSpace(string(pw))}.AsSha512Mechanism()),
		kgo.ClientID("heimdall-stack-principals"),
	)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()

	var principals []string
	for _, a := range acls {
		if !slices.Contains(principals, a.principal) {
			principals = append(principals, a.principal)
		}
	}
	if err := users(ctx, adm, principals, *secrets); err != nil {
		return err
	}
	if err := apply(ctx, adm, principals, acls); err != nil {
		return err
	}
	log.Info("kafka principals ready", "principals", strings.Join(principals, ","), "acls", len(acls))
	return nil
}

// users creates or updates each principal's SCRAM-SHA-512 credential.
func users(ctx context.Context, adm *kadm.Client, principals []string, secrets string) error {
	var ups []kadm.UpsertSCRAM
	for _, p := range principals {
		b, err := os.ReadFile(filepath.Join(secrets, "kafka-"+p))
		if err != nil {
			return fmt.Errorf("password of %s: %w", p, err)
		}
		ups = append(ups, kadm.UpsertSCRAM{User: p, Mechanism: kadm.ScramSha512, Iterations: 8192, Password: strings.TrimSpace(string(b))})
	}
	res, err := adm.AlterUserSCRAMs(ctx, nil, ups)
	if err != nil {
		return fmt.Errorf("creating SCRAM users: %w", err)
	}
	for u, r := range res {
		if r.Err != nil {
			return fmt.Errorf("SCRAM user %s: %w", u, r.Err)
		}
	}
	return nil
}

// apply deletes the principals' ACLs and creates the listed ones.
func apply(ctx context.Context, adm *kadm.Client, principals []string, acls []acl) error {
	for _, p := range principals {
		del := kadm.NewACLs().Allow("User:" + p).AllowHosts().AnyResource().Operations(kmsg.ACLOperationAny).ResourcePatternType(kadm.ACLPatternAny)
		if _, err := adm.DeleteACLs(ctx, del); err != nil {
			return fmt.Errorf("deleting the ACLs of %s: %w", p, err)
		}
	}
	for _, a := range acls {
		b := kadm.NewACLs().Allow("User:" + a.principal).AllowHosts("*").Operations(a.ops...).ResourcePatternType(a.pattern)
		switch a.resource {
		case kmsg.ACLResourceTypeTopic:
			b = b.Topics(a.name)
		case kmsg.ACLResourceTypeGroup:
			b = b.Groups(a.name)
		case kmsg.ACLResourceTypeCluster:
			b = b.Clusters()
		}
		res, err := adm.CreateACLs(ctx, b)
		if err != nil {
			return fmt.Errorf("creating ACLs of %s: %w", a.principal, err)
		}
		for _, r := range res {
			if r.Err != nil {
				return fmt.Errorf("ACL %s %s %s: %w", a.principal, a.name, r.Operation, r.Err)
			}
		}
	}
	return nil
}
