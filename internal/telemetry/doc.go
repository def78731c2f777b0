// Package telemetry sets up what Heimdall reports about itself: structured
// JSON logs with log/slog and the Prometheus registry behind /metrics.
// Log messages are lower case with stable keys and never carry input values.
package telemetry
