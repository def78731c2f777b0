package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
)

// runIngest uploads files through the API. Each file's batch id is derived
// from its content and source, so re-running an interrupted upload re-sends
// the same batch and duplicates nothing.
func runIngest(ctx context.Context, args []string, stdout, stderr io.Writer, lookup env) error {
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	source := fs.String("source", "", "source name recorded as provenance (default: the file name)")
	profile := fs.String("profile", "", "mapping profile (default generic)")
	format := fs.String("format", "ndjson", "input format")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("%w: heimdall ingest [-source S] [-profile P] FILE [FILE ...]", errUsage)
	}
	c, err := newAPIClient(ctx, lookup)
	if err != nil {
		return err
	}
	var failed error
	for _, path := range fs.Args() {
		if err := c.ingestFile(ctx, path, *source, *profile, *format, stdout); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", path, err)
			failed = errors.Join(failed, err)
		}
	}
	return failed
}

type ingestSummary struct {
	RequestID  string `json:"request_id"`
	BatchID    string `json:"batch_id"`
	Rows       int64  `json:"rows"`
	Accepted   int64  `json:"accepted"`
	Rejected   int64  `json:"rejected"`
	Duplicates int64  `json:"duplicates"`
	Events     int64  `json:"events"`
	Rejects    []struct {
		Line   int64  `json:"line"`
		Code   string `json:"code"`
		Reason string `json:"reason"`
	} `json:"rejects"`
}

func (c *apiClient) ingestFile(ctx context.Context, path, source, profile, format string, stdout io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if source == "" {
		source = filepath.Base(path)
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	h.Write([]byte("\x00" + source + "\x00" + profile + "\x00" + format))
	batch := "file-" + hex.EncodeToString(h.Sum(nil))[:40]
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	q := url.Values{"source": {source}, "file": {filepath.Base(path)}, "format": {format}}
	if profile != "" {
		q.Set("profile", profile)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.APIURL+"/v1/ingest?"+q.Encode(), f)
	if err != nil {
		return err
	}
	tok, err := c.token()
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Idempotency-Key", batch)
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("uploading: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if resp.StatusCode != http.StatusOK {
		var p struct {
			Title, Detail string
		}
		_ = json.Unmarshal(body, &p)
		return fmt.Errorf("%s: %s", resp.Status, p.Detail)
	}
	var s ingestSummary
	if err := json.Unmarshal(body, &s); err != nil {
		return fmt.Errorf("reading the response: %w", err)
	}
	fmt.Fprintf(stdout, "%s: %d rows: %d accepted, %d rejected, %d duplicates (%d events, batch %s)\n",
		path, s.Rows, s.Accepted, s.Rejected, s.Duplicates, s.Events, s.BatchID)
	for _, r := range s.Rejects {
		fmt.Fprintf(stdout, "  line %d rejected: %s (%s)\n", r.Line, r.Reason, r.Code)
	}
	return nil
}
