// Package e2e holds end-to-end and stack tests that drive the real development stack and the built
// binary.
//
// The tests need the stack that deploy/stack.sh starts (PostgreSQL with AGE and pgvector, Kafka,
// Keycloak) and read its addresses, credentials and CA from the HEIMDALL_*
// variables in .stack/env. They fail, and do not skip, when the stack is missing: run
// `make stack-up` (deploy/stack.sh up) first. Only `go test -short` skips them.
package e2e
