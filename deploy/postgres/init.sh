#!/bin/sh
# Container entry point: initialise once (TLS 1.3 only, hostssl + scram only,
# AGE preloaded, extensions in template1, the heimdall role), then run postgres.
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  printf '%s\n' "$POSTGRES_PASSWORD" >/tmp/pw
  initdb -U postgres --auth=scram-sha-256 --pwfile=/tmp/pw -D "$PGDATA" >/dev/null
  rm -f /tmp/pw
  cp "${HEIMDALL_PG_CERT_DIR:-/certs/certs}/postgres.crt" "${HEIMDALL_PG_CERT_DIR:-/certs/certs}/postgres.key" "$PGDATA/" && chmod 0600 "$PGDATA/postgres.key"
  cat >>"$PGDATA/postgresql.conf" <<CONF
listen_addresses = '*'
shared_preload_libraries = 'age'
ssl = on
ssl_cert_file = 'postgres.crt'
ssl_key_file = 'postgres.key'
ssl_min_protocol_version = 'TLSv1.3'
ssl_max_protocol_version = 'TLSv1.3'
password_encryption = 'scram-sha-256'
CONF
  printf 'local all postgres scram-sha-256\nhostssl all all all scram-sha-256\n' >"$PGDATA/pg_hba.conf"
  pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
  export PGPASSWORD="$POSTGRES_PASSWORD"
  psql -v ON_ERROR_STOP=1 -U postgres -h /var/run/postgresql -d postgres <<SQL
CREATE ROLE heimdall LOGIN CREATEDB PASSWORD '$HEIMDALL_DB_PASSWORD';
\c template1
CREATE EXTENSION IF NOT EXISTS age;
CREATE EXTENSION IF NOT EXISTS vector;
GRANT USAGE ON SCHEMA ag_catalog TO heimdall;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ag_catalog TO heimdall;
\c postgres
CREATE DATABASE heimdall OWNER heimdall;
SQL
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
fi
exec postgres -D "$PGDATA"
