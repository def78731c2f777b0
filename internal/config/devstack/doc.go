// Package devstack reads the development stack's settings for tests.
//
// `make stack-up` starts the real services (PostgreSQL with AGE and pgvector,
// Kafka, Keycloak with the realm deploy/keycloak/heimdall-realm.json, all
// behind TLS 1.3 with certificates from the development CA) and writes their
// settings to .stack/env as
// HEIMDALL_* variables. Tests call Env, which reads those variables and fails
// the test — it never skips it — when the stack is not up:
//
//	stack := devstack.Env(t)
//	token := stack.TokenForClient(t, devstack.ClientCLI)       // client_credentials
//	alice := stack.TokenForUser(t, devstack.UserAlice)         // code flow + PKCE via the login form
//	resp, err := stack.HTTPClient().Get(...)                   // TLS 1.3, dev CA
//
// Client secrets, user passwords and Keycloak's admin client are generated
// by deploy/stack.sh for each stack and read from its credentials file
// (.stack/credentials.json, HEIMDALL_DEV_CREDENTIALS); nothing
// secret is committed. Admin drives Keycloak's admin REST API (key
// rotation, imported test keys); SignIn plays a browser at Keycloak's
// login form for any authorization request.
//
// This package is test support: it is imported by _test.go files only.
package devstack
