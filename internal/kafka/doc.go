// Package kafka is Heimdall's adapter to Apache Kafka, built on franz-go: the
// TLS 1.3 client, topic creation with explicit settings, the idempotent
// acks=all producer behind the ingest command, and the consumer loops that
// feed projectors with offsets kept in their own store.
package kafka
