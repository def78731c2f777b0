#!/usr/bin/env bash
# cypher.sh 'MATCH … RETURN a, b': runs a read-only Cypher query on the graph
# generation readers currently use, through psql over TLS. Needs the
# variables of .stack/env (HEIMDALL_POSTGRES_URL).
set -euo pipefail
query=${1:-}
if [ -z "$query" ]; then
  echo "usage: make cypher Q='MATCH (n) RETURN count(n)'" >&2
  exit 2
fi
: "${HEIMDALL_POSTGRES_URL:?source .stack/env first (make stack-up)}"
export PGOPTIONS='-c default_transaction_read_only=on -c statement_timeout=30s'
graph=$(psql "$HEIMDALL_POSTGRES_URL" -XAtqc "SELECT graph_name FROM heimdall.generations WHERE state = 'active'")
if [ -z "$graph" ]; then
  echo "no active graph yet: has heimdall serve (or heimdall projector) run?" >&2
  exit 1
fi
# One result column per top-level comma of the RETURN clause.
ret=$(printf '%s' "$query" | awk 'BEGIN{IGNORECASE=1} {s=$0} END{n=split(s,a,/[Rr][Ee][Tt][Uu][Rr][Nn]/); print a[n]}')
ret=$(printf '%s' "$ret" | sed -E 's/[[:space:]](ORDER|order|LIMIT|limit|SKIP|skip)[[:space:]].*$//')
cols=$(printf '%s' "$ret" | awk '{d=0; n=1; for(i=1;i<=length($0);i++){c=substr($0,i,1); if(c~/[\(\[\{]/)d++; else if(c~/[\)\]\}]/)d--; else if(c==","&&d==0)n++} print n}')
defs=""
for i in $(seq 1 "$cols"); do defs="$defs${defs:+, }c$i agtype"; done
if printf '%s' "$query" | grep -q '\$\$'; then
  echo 'the query must not contain $$' >&2
  exit 2
fi
psql "$HEIMDALL_POSTGRES_URL" -X -v ON_ERROR_STOP=1 -q \
  -c "SET search_path = ag_catalog, public" \
  -c "SELECT * FROM cypher('$graph', \$\$ $query \$\$) AS ($defs)"
