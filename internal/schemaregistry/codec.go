package schemaregistry

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/internal/config"
	"github.com/heimdallhub/heimdall/internal/tlsconf"
)

// NewCodec builds the event codec the configuration asks for: without a
// registry URL the single-object codec; with one, schema-registry mode —
// every subject set to FULL_TRANSITIVE and every released schema version
// registered (within ctx) before the codec is returned. The registry is
// reached over TLS 1.3, trusting caFile (system roots when empty).
func NewCodec(ctx context.Context, cfg config.SchemaRegistry, caFile string, log *slog.Logger) (*events.Codec, error) {
	if cfg.URL == "" {
		return events.NewCodec()
	}
	tlsConf, err := tlsconf.Client(caFile)
	if err != nil {
		return nil, err
	}
	client, err := New(cfg.URL, tlsConf, WithBasicAuth(string(cfg.BasicAuth)))
	if err != nil {
		return nil, err
	}
	format := events.WireConfluent
	if cfg.WireFormat != "" {
		format = events.WireFormat(cfg.WireFormat)
	}
	codec, err := events.NewCodec(events.WithRegistry(client), events.WithWireFormat(format), events.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("schema registry: %w", err)
	}
	if log != nil {
		ids := codec.SchemaIDs()
		attrs := []any{"wire_format", string(codec.WireFormat()), "subjects", len(ids)}
		if id, ok := ids["heimdall.events.Envelope"]; ok {
			attrs = append(attrs, "envelope_schema_id", id)
		}
		log.Info("schemas registered with the schema registry", attrs...)
	}
	return codec, nil
}
