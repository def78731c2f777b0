// Package config reads Heimdall's configuration from HEIMDALL_* environment
// variables and validates it, reporting every problem at once.
//
// It is the only place besides cmd/ that reads the environment. Subpackage
// devstack reads the development stack's settings for tests.
package config
