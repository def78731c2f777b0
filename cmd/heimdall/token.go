package main

import (
	"context"
	"fmt"
	"io"
)

// runToken prints an access token for HEIMDALL_CLIENT_ID, for curl.
func runToken(ctx context.Context, stdout io.Writer, lookup env) error {
	c, err := newAPIClient(ctx, lookup)
	if err != nil {
		return err
	}
	tok, err := c.token()
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, tok)
	return err
}
