package main

import (
	"fmt"
	"io"

	"github.com/heimdallhub/heimdall/internal/observable"
)

// runKey prints the canonical key of an observable: heimdall key KIND VALUE
// (KIND "ip" picks ipv4-addr or ipv6-addr).
func runKey(args []string, stdout io.Writer) error {
	if len(args) != 2 {
		return fmt.Errorf("%w: heimdall key KIND VALUE (KIND: ip, ipv4-addr, ipv6-addr, domain-name, url, file, mac-addr, email-addr)", errUsage)
	}
	var (
		o   observable.Observable
		err error
	)
	if args[0] == "ip" {
		o, err = observable.ParseIP(args[1])
	} else {
		o, err = observable.Canonicalize(observable.Kind(args[0]), args[1])
	}
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, o.Key())
	return err
}
