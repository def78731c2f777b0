#!/usr/bin/env bash
# A Karapace schema registry for Heimdall's schema-registry mode tests
# (internal/e2e/registry_test.go), storing its schemas on the dev Kafka over
# TLS (its _schemas topic, named per run).
#
#   deploy/karapace.sh install   create the cached virtualenv with the pinned
#                                Karapace; print its python. Exit 3 when the
#                                package index serves no such Karapace.
#   deploy/karapace.sh run       run the registry in the foreground on
#                                127.0.0.1:$KARAPACE_PORT (plain HTTP, loopback
#                                only: the test puts a TLS 1.3 proxy in front)
#
# Cache: ${HEIMDALL_CACHE_DIR:-$HOME/.cache/heimdall}/karapace-<version>-venv.
# run reads HEIMDALL_KAFKA_BROKERS and HEIMDALL_CA_FILE (. .stack/env) and
# KARAPACE_PORT, KARAPACE_TOPIC_NAME, KARAPACE_GROUP_ID.
set -euo pipefail

KARAPACE_VERSION="${HEIMDALL_KARAPACE_VERSION:-4.1.0}"
CACHE_DIR="${HEIMDALL_CACHE_DIR:-${HOME:-/root}/.cache/heimdall}"
VENV="$CACHE_DIR/karapace-$KARAPACE_VERSION-venv"

die() { echo "karapace.sh: $*" >&2; exit 1; }

install() {
	mkdir -p "$CACHE_DIR"
	exec 9>"$VENV.lock"
	flock -w 900 9 || die "timed out waiting for $VENV.lock"
	if [ -f "$VENV/.installed" ] && "$VENV/bin/python" -c 'import karapace' 2>/dev/null; then
		echo "$VENV/bin/python"
		return
	fi
	rm -rf "$VENV"
	python3 -m venv "$VENV" >&2 || die "python3 -m venv failed (apt-get install python3-venv)"
	local out
	if ! out=$("$VENV/bin/pip" install --disable-pip-version-check --quiet "karapace==$KARAPACE_VERSION" 2>&1); then
		rm -rf "$VENV"
		echo "pip install karapace==$KARAPACE_VERSION failed:" >&2
		echo "$out" >&2
		exit 3
	fi
	touch "$VENV/.installed"
	echo "$VENV/bin/python"
}

run() {
	local py
	py=$(install)
	: "${KARAPACE_PORT:?set KARAPACE_PORT}"
	: "${HEIMDALL_KAFKA_BROKERS:?source .stack/env}"
	: "${HEIMDALL_CA_FILE:?source .stack/env}"
	export KARAPACE_KARAPACE_REGISTRY=true
	export KARAPACE_HOST=127.0.0.1
	export KARAPACE_ADVERTISED_HOSTNAME=127.0.0.1
	export KARAPACE_BOOTSTRAP_URI="${HEIMDALL_KAFKA_BROKERS%%,*}"
	export KARAPACE_SECURITY_PROTOCOL=SSL
	export KARAPACE_SSL_CAFILE="$HEIMDALL_CA_FILE"
	export KARAPACE_TOPIC_NAME="${KARAPACE_TOPIC_NAME:-_schemas_heimdall}"
	export KARAPACE_GROUP_ID="${KARAPACE_GROUP_ID:-heimdall-schema-registry}"
	export KARAPACE_REPLICATION_FACTOR=1
	export KARAPACE_LOG_LEVEL="${KARAPACE_LOG_LEVEL:-INFO}"
	if [ -x "$(dirname "$py")/karapace" ]; then
		exec "$(dirname "$py")/karapace"
	fi
	exec "$py" -m karapace
}

case "${1:-}" in
install) install ;;
run) run ;;
*) die "usage: $0 install|run" ;;
esac
