#!/usr/bin/env bash
# make run: with the stack up and bin/heimdall built, runs `heimdall serve`,
# uploads the bundled sample and prints how to look at it. Ctrl-C stops.
set -euo pipefail
cd "$(dirname "$0")/.."
set -a; . "${HEIMDALL_STACK_DIR:-$PWD/.stack}/env"; set +a
export HEIMDALL_PEER_ID=${HEIMDALL_PEER_ID:-dev}
log="$HEIMDALL_STACK_DIR/logs/heimdall.log"
echo "heimdall serve: logs in $log"
./bin/heimdall serve >>"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT INT TERM
for _ in $(seq 1 150); do
  if curl -fsS --cacert "$HEIMDALL_CA_FILE" "https://localhost:8443/readyz" >/dev/null 2>&1; then break; fi
  if ! kill -0 $pid 2>/dev/null; then echo "heimdall exited; last log lines:"; tail -20 "$log"; exit 1; fi
  sleep 0.2
done
curl -fsS --cacert "$HEIMDALL_CA_FILE" "https://localhost:8443/readyz" >/dev/null || { echo "heimdall is not ready; see $log"; exit 1; }
./bin/heimdall ingest -source quickstart deploy/samples/quickstart.ndjson
sleep 2 # let the projector apply the batch
cat <<MSG

Heimdall is running on https://localhost:8443 (Ctrl-C stops it). In another terminal:

  set -a; . .stack/env; set +a; export PATH=\$PWD/bin:\$PATH
  curl -s --cacert "\$HEIMDALL_CA_FILE" -H "Authorization: Bearer \$(heimdall token)" \\
       "https://localhost:8443/v1/entities/\$(heimdall key domain-name updates.example.com)"
  make cypher Q='MATCH (d:Domain)-[r:RESOLVES_TO]->(i) RETURN d.value, i.value'
  heimdall login    # sign a person in at Keycloak in a browser (users and passwords:
                    # .stack/credentials.json)

MSG
wait $pid
