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
	"time"
)

// runIngest uploads files through the API. Each file's batch id is derived
// from its content and source, so re-running an interrupted upload re-sends
// the same batch and duplicates nothing.
func runIngest(ctx context.Context, args []string, stdout, stderr io.Writer, lookup env) error {
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	source := fs.String("source", "", "source name recorded as provenance (default: the file name)")
	profile := fs.String("profile", "", "mapping profile (default generic)")
	format := fs.String("format", "auto", "input format: auto, ndjson, json, csv, tsv, zeek, zeek-json, eve, cef, leef")
	async := fs.Bool("async", false, "ask the server to spool the upload and process it in the background; poll its status")
	quiet := fs.Bool("quiet", false, "no progress output")
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
		opts := uploadOptions{source: *source, profile: *profile, format: *format, async: *async}
		if !*quiet {
			opts.progress = stderr
		}
		if err := c.ingestFile(ctx, path, opts, stdout); err != nil {
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

type uploadOptions struct {
	source, profile, format string
	async                   bool
	progress                io.Writer // nil: quiet
}

func (c *apiClient) ingestFile(ctx context.Context, path string, o uploadOptions, stdout io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	source := o.source
	if source == "" {
		source = filepath.Base(path)
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	h.Write([]byte("\x00" + source + "\x00" + o.profile + "\x00" + o.format))
	batch := "file-" + hex.EncodeToString(h.Sum(nil))[:40]
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	q := url.Values{"source": {source}, "file": {filepath.Base(path)}, "format": {o.format}}
	if o.profile != "" {
		q.Set("profile", o.profile)
	}
	body := io.Reader(f)
	var bar *progressBar
	if o.progress != nil {
		bar = newProgressBar(o.progress, filepath.Base(path), st.Size())
		body = io.TeeReader(f, bar)
		defer bar.done()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.APIURL+"/v1/ingest?"+q.Encode(), body)
	if err != nil {
		return err
	}
	req.ContentLength = st.Size()
	if o.async {
		req.Header.Set("Prefer", "respond-async")
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
	respBody, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if bar != nil {
		bar.done()
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusAccepted:
		var a struct {
			BatchID   string `json:"batch_id"`
			StatusURL string `json:"status_url"`
		}
		if err := json.Unmarshal(respBody, &a); err != nil {
			return fmt.Errorf("reading the response: %w", err)
		}
		respBody, err = c.waitBatch(ctx, a.StatusURL, o.progress)
		if err != nil {
			return err
		}
	default:
		var p struct {
			Title, Detail string
		}
		_ = json.Unmarshal(respBody, &p)
		return fmt.Errorf("%s: %s", resp.Status, p.Detail)
	}
	var s ingestSummary
	if err := json.Unmarshal(respBody, &s); err != nil {
		return fmt.Errorf("reading the response: %w", err)
	}
	fmt.Fprintf(stdout, "%s: %d rows: %d accepted, %d rejected, %d duplicates (%d events, batch %s)\n",
		path, s.Rows, s.Accepted, s.Rejected, s.Duplicates, s.Events, s.BatchID)
	for _, r := range s.Rejects {
		fmt.Fprintf(stdout, "  line %d rejected: %s (%s)\n", r.Line, r.Reason, r.Code)
	}
	return nil
}

// waitBatch polls an asynchronous batch until it ends and returns its result
// in the shape of a synchronous response.
func (c *apiClient) waitBatch(ctx context.Context, statusURL string, progress io.Writer) ([]byte, error) {
	for {
		tok, err := c.token()
		if err != nil {
			return nil, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.cfg.APIURL+statusURL, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := c.http.Do(req)
		if err != nil {
			return nil, err
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("batch status: %s", resp.Status)
		}
		var st struct {
			State  string          `json:"state"`
			Error  string          `json:"error"`
			Result json.RawMessage `json:"result"`
		}
		if err := json.Unmarshal(b, &st); err != nil {
			return nil, err
		}
		switch st.State {
		case "done":
			return st.Result, nil
		case "failed":
			return nil, fmt.Errorf("batch failed: %s", st.Error)
		}
		if progress != nil {
			var r struct {
				Rows     int64 `json:"rows"`
				Accepted int64 `json:"accepted"`
			}
			_ = json.Unmarshal(st.Result, &r)
			fmt.Fprintf(progress, "\r  %s: %d rows read, %d accepted   ", st.State, r.Rows, r.Accepted)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}
