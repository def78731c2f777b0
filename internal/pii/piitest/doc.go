// Package piitest builds PII engines with fresh random keys for tests.
package piitest
