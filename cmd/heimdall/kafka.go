package main

import (
	"crypto/tls"
	"fmt"
	"log/slog"

	"github.com/heimdallhub/heimdall/internal/config"
	"github.com/heimdallhub/heimdall/internal/kafka"
)

// kafkaConfig is the one place a process's Kafka client configuration is
// made: its brokers, TLS 1.3 (with the client certificate, when one is
// configured, for mTLS) and its SCRAM principal.
func kafkaConfig(brokers []string, auth config.KafkaAuth, clientTLS *tls.Config, clientID string, log *slog.Logger) (kafka.Config, error) {
	kc := kafka.Config{Brokers: brokers, TLS: clientTLS, ClientID: clientID, Logger: log}
	if auth.ClientCertFile != "" {
		cert, err := tls.LoadX509KeyPair(auth.ClientCertFile, auth.ClientKeyFile)
		if err != nil {
			return kafka.Config{}, fmt.Errorf("loading the Kafka client certificate: %w", err)
		}
		kc.TLS = clientTLS.Clone()
		kc.TLS.Certificates = []tls.Certificate{cert}
	}
	if auth.Mechanism != "none" {
		kc.SASL = &kafka.SASL{Mechanism: auth.Mechanism, User: auth.User, Password: string(auth.Password)}
	}
	return kc, kc.Validate()
}
