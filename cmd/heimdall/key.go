package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/heimdallhub/heimdall/internal/observable"
	"github.com/heimdallhub/heimdall/internal/pii/keys"
	"github.com/heimdallhub/heimdall/internal/pii/transform"
)

// runKey prints the canonical key of an observable: heimdall key KIND VALUE
// (KIND "ip" picks ipv4-addr or ipv6-addr). With -personal it prints the
// key Heimdall gives the value when the PII policy marks it personal: the
// key of its pseudonym under the current HEIMDALL_PSEUDONYM_KEYS version.
func runKey(args []string, stdout io.Writer, lookup env) error {
	fs := flag.NewFlagSet("key", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	personal := fs.Bool("personal", false, "")
	if err := fs.Parse(args); err != nil || fs.NArg() != 2 {
		return fmt.Errorf("%w: heimdall key [-personal] KIND VALUE (KIND: ip, ipv4-addr, ipv6-addr, domain-name, url, file, mac-addr, email-addr, user-account)", errUsage)
	}
	kind, value := fs.Arg(0), fs.Arg(1)
	o, err := observable.Parse(kind, value)
	if err != nil {
		return err
	}
	if !*personal {
		_, err = fmt.Fprintln(stdout, o.Key())
		return err
	}
	raw, ok := lookup("HEIMDALL_PSEUDONYM_KEYS")
	if !ok {
		return fmt.Errorf("HEIMDALL_PSEUDONYM_KEYS: %w: not set", keys.ErrMissingKey)
	}
	ps, err := keys.ParsePseudonymKeys("HEIMDALL_PSEUDONYM_KEYS", raw)
	if err != nil {
		return err
	}
	v, _ := ps.Current()
	p, err := transform.Pseudonym(ps, v, string(o.Kind), o.Value)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, observable.PersonalKey(o.Kind, p))
	return err
}
