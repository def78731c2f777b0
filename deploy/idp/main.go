package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/heimdallhub/heimdall/deploy/idp/config"
	"github.com/heimdallhub/heimdall/deploy/idp/provider"
)

// shutdownTimeout bounds the graceful shutdown.
const shutdownTimeout = 10 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "idp:", err)
		}
		stop()
		os.Exit(1)
	}
}

type options struct {
	addr     string
	certFile string
	keyFile  string
	config   string
	stateDir string
	issuer   string
	logLevel slog.Level
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("idp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:58443", "HTTPS listen address (TLS 1.3 only)")
	fs.StringVar(&o.certFile, "cert", "", "PEM certificate chain issued by the development CA (required)")
	fs.StringVar(&o.keyFile, "key", "", "PEM private key of -cert (required)")
	fs.StringVar(&o.config, "config", "deploy/idp/config.yaml", "configuration file: clients, users, claims, lifetimes")
	fs.StringVar(&o.stateDir, "state", "", "directory persisting the signing keys (empty: in memory, lost on restart)")
	fs.StringVar(&o.issuer, "issuer", "https://localhost:58443", "issuer URL; must match how clients reach -addr")
	fs.TextVar(&o.logLevel, "log-level", slog.LevelInfo, "log level: DEBUG, INFO, WARN or ERROR")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if o.certFile == "" || o.keyFile == "" {
		return o, errors.New("-cert and -key are required: the provider serves HTTPS only")
	}
	return o, nil
}

// run parses the flags, starts the provider and serves until ctx ends.
func run(ctx context.Context, args []string, stderr io.Writer) error {
	opts, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: opts.logLevel}))
	// zitadel/oidc logs through the default logger.
	slog.SetDefault(logger)

	ln, err := net.Listen("tcp", opts.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv, err := newServer(opts, logger)
	if err != nil {
		ln.Close()
		return err
	}
	return serve(ctx, srv, ln, logger)
}

// newServer loads the configuration, the certificate and the signing keys
// and returns the HTTPS server.
func newServer(opts options, logger *slog.Logger) (*http.Server, error) {
	cfg, err := config.Load(opts.config)
	if err != nil {
		return nil, err
	}
	tlsConfig, err := serverTLSConfig(opts.certFile, opts.keyFile)
	if err != nil {
		return nil, err
	}
	p, err := provider.New(provider.Options{
		Issuer:   opts.issuer,
		Config:   cfg,
		StateDir: opts.stateDir,
		Logger:   logger,
	})
	if err != nil {
		return nil, err
	}
	return &http.Server{
		Handler:           p,
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}, nil
}

// serverTLSConfig accepts TLS 1.3 only.
func serverTLSConfig(certFile, keyFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load tls certificate: %w", err)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
	}, nil
}

// serve serves HTTPS on ln until ctx ends, then shuts down gracefully.
func serve(ctx context.Context, srv *http.Server, ln net.Listener, logger *slog.Logger) error {
	errc := make(chan error, 1)
	go func() {
		logger.Info("serving https", "addr", ln.Addr().String(), "min_tls", "1.3")
		errc <- srv.ServeTLS(ln, "", "")
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	logger.Info("stopped")
	return nil
}
