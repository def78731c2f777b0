#!/usr/bin/env bash
# shellcheck disable=SC2015,SC2016 # "A && B || die" and sh -c scripts reading "$@" are meant
# Heimdall development stack: real PostgreSQL 17 (+ Apache AGE, pgvector), Apache Kafka 4 (KRaft),
# Keycloak as the OpenID Provider, all on loopback, all TLS 1.3 only, with certificates from a
# development CA. No Docker: PostgreSQL runs from a cached Debian trixie root (the host's Debian 12
# archive has neither extension), Kafka runs from Maven Central jars on the host's Java 17, Keycloak
# from its Maven Central distribution on a Java 21+ found on the host.
#
#   deploy/stack.sh up | down | status | logs [postgres|kafka|keycloak] | env | psql [--admin] [ARGS] | clean
#
# Cache (slow downloads, shared by every checkout): ${HEIMDALL_CACHE_DIR:-$HOME/.cache/heimdall}
# State (per checkout, gitignored):                 ${HEIMDALL_STACK_DIR:-<repo>/.stack}
#
# Must run as root (debootstrap, chroot, and the mount namespace PostgreSQL runs in).
set -euo pipefail

SELF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
REPO_DIR="$(cd "$(dirname "$SELF")/.." && pwd)"
CACHE_DIR="${HEIMDALL_CACHE_DIR:-${HOME:-/root}/.cache/heimdall}"
STACK_DIR="${HEIMDALL_STACK_DIR:-$REPO_DIR/.stack}"

PG_PORT="${HEIMDALL_PG_PORT:-55432}"
KAFKA_PORT="${HEIMDALL_KAFKA_PORT:-59092}"
KAFKA_CONTROLLER_PORT="${HEIMDALL_KAFKA_CONTROLLER_PORT:-59093}"
KAFKA_MTLS_PORT="${HEIMDALL_KAFKA_MTLS_PORT:-59094}"
KC_PORT="${HEIMDALL_KEYCLOAK_PORT:-58443}"

# Bump PG_ROOT_RECIPE whenever the way the root is built changes: a new name forces a rebuild.
PG_ROOT_RECIPE="pg17-age-vector-v1"
PG_ROOT="$CACHE_DIR/trixie-$PG_ROOT_RECIPE"
PG_ROOT_TMP="$CACHE_DIR/pg-trixie.tmp"
PG_BIN=/usr/lib/postgresql/17/bin # inside the root
PG_MNT=/heimdall                   # where $STACK_DIR/pg is bind-mounted inside the root

KAFKA_POM="$REPO_DIR/deploy/kafka/pom.xml"

CA_DIR="$STACK_DIR/ca"
CERT_DIR="$STACK_DIR/certs"
SECRETS_DIR="$STACK_DIR/secrets"
LOG_DIR="$STACK_DIR/logs"
RUN_DIR="$STACK_DIR/run"
PG_DIR="$STACK_DIR/pg"
PG_DATA="$PG_DIR/data"
KAFKA_DIR="$STACK_DIR/kafka"
KC_DIR="$STACK_DIR/keycloak"
ENV_FILE="$STACK_DIR/env"

log() { printf '[stack] %s\n' "$*" >&2; }
die() {
	printf '[stack] ERROR: %s\n' "$*" >&2
	exit 1
}

now_ms() { date +%s%3N; }

# ---------------------------------------------------------------------------------------------
# Host prerequisites
# ---------------------------------------------------------------------------------------------

ensure_host_tools() {
	[ "$(id -u)" = 0 ] || die "run as root (debootstrap, chroot and mount namespaces need it)"
	local missing=()
	command -v debootstrap >/dev/null || missing+=(debootstrap)
	command -v openssl >/dev/null || missing+=(openssl)
	command -v curl >/dev/null || missing+=(curl)
	command -v flock >/dev/null || missing+=(util-linux)
	command -v unshare >/dev/null || missing+=(util-linux)
	command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
	command -v mvn >/dev/null || missing+=(maven)
	command -v unzip >/dev/null || missing+=(unzip)
	if [ ${#missing[@]} -gt 0 ]; then
		log "installing host packages: ${missing[*]}"
		DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
	fi
}

# The Debian mirror is whatever this machine's apt already uses (never hard-coded here): the URIs
# of the first non-security stanza of debian.sources, else the first plain `deb` line.
debian_mirror() {
	if [ -n "${HEIMDALL_DEBIAN_MIRROR:-}" ]; then
		echo "$HEIMDALL_DEBIAN_MIRROR"
		return
	fi
	local m="" f=/etc/apt/sources.list.d/debian.sources
	if [ -r "$f" ]; then
		m="$(awk 'BEGIN { RS = ""; FS = "\n" }
			{
				uris = ""; suites = ""
				for (i = 1; i <= NF; i++) {
					if ($i ~ /^URIs:/) { u = $i; sub(/^URIs:[ \t]*/, "", u); uris = u }
					if ($i ~ /^Suites:/) { suites = $i }
				}
				if (uris != "" && suites !~ /-security/) { split(uris, a, /[ \t]+/); print a[1]; exit }
			}' "$f")"
	fi
	if [ -z "$m" ]; then
		m="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
			sed -e 's/\[[^]]*\]//' | awk '$1 == "deb" && $3 !~ /-security/ { print $2; exit }')"
	fi
	[ -n "$m" ] || die "cannot derive the Debian mirror from /etc/apt (set HEIMDALL_DEBIAN_MIRROR)"
	echo "${m%/}"
}

# ---------------------------------------------------------------------------------------------
# Cache: Debian trixie root with PostgreSQL 17 + AGE + pgvector
# ---------------------------------------------------------------------------------------------

pg_root_ready() { [ -f "$PG_ROOT/.heimdall-ready" ] && [ -x "$PG_ROOT$PG_BIN/postgres" ]; }

ensure_pg_root() {
	pg_root_ready && return 0
	mkdir -p "$CACHE_DIR"
	exec 8>"$CACHE_DIR/.pg-root.lock"
	flock -w 1800 8 || die "timed out waiting for $CACHE_DIR/.pg-root.lock"
	if pg_root_ready; then
		exec 8>&-
		return 0
	fi
	local t0 mirror
	t0=$(now_ms)
	mirror="$(debian_mirror)"
	# A finished debootstrap removes ROOT/debootstrap; anything else is a half root: start over.
	# (Nothing is ever mounted inside the root on the host: PostgreSQL's mounts live in private
	# mount namespaces, so removing it is safe.)
	if [ -d "$PG_ROOT_TMP" ] && { [ -d "$PG_ROOT_TMP/debootstrap" ] || [ ! -x "$PG_ROOT_TMP/usr/bin/apt-get" ]; }; then
		log "removing incomplete root $PG_ROOT_TMP"
		rm -rf "$PG_ROOT_TMP"
	fi
	if [ ! -d "$PG_ROOT_TMP" ]; then
		log "debootstrap trixie (minbase) into $PG_ROOT_TMP (about 30 s)"
		debootstrap --variant=minbase trixie "$PG_ROOT_TMP" "$mirror" >"$CACHE_DIR/debootstrap.log" 2>&1 ||
			die "debootstrap failed, see $CACHE_DIR/debootstrap.log"
	fi
	log "installing postgresql-17, postgresql-17-age, postgresql-17-pgvector in the root (about 20 s)"
	local r="$PG_ROOT_TMP"
	echo "deb $mirror trixie main" >"$r/etc/apt/sources.list"
	cp /etc/resolv.conf "$r/etc/resolv.conf" 2>/dev/null || true
	printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$r/etc/hosts"
	# No service starts and no default cluster inside the root.
	printf '#!/bin/sh\nexit 101\n' >"$r/usr/sbin/policy-rc.d"
	chmod 0755 "$r/usr/sbin/policy-rc.d"
	mkdir -p "$r/etc/postgresql-common/createcluster.d"
	echo 'create_main_cluster = false' >"$r/etc/postgresql-common/createcluster.d/heimdall.conf"
	chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
		/bin/sh -c 'dpkg --configure -a &&
			apt-get update -q &&
			apt-get install -y -q --no-install-recommends postgresql-17 postgresql-17-age postgresql-17-pgvector &&
			apt-get clean && rm -rf /var/lib/apt/lists/*' >"$CACHE_DIR/pg-root-apt.log" 2>&1 || {
		rm -rf "$PG_ROOT_TMP" # the next run starts from a clean debootstrap
		die "apt-get in the trixie root failed, see $CACHE_DIR/pg-root-apt.log"
	}
	# Non-superusers may LOAD only from $libdir/plugins: LOAD '$libdir/plugins/age' then works for them
	# (AGE is preloaded anyway through shared_preload_libraries, so they never need LOAD 'age').
	mkdir -p "$r/usr/lib/postgresql/17/lib/plugins"
	ln -sfn ../age.so "$r/usr/lib/postgresql/17/lib/plugins/age.so"
	mkdir -p "$r$PG_MNT"
	[ -x "$r$PG_BIN/postgres" ] && [ -f "$r/usr/lib/postgresql/17/lib/age.so" ] && [ -f "$r/usr/lib/postgresql/17/lib/vector.so" ] ||
		die "the root lacks postgres, age.so or vector.so after apt-get"
	echo "$PG_ROOT_RECIPE" >"$r/.heimdall-ready"
	sync -f "$r" 2>/dev/null || true
	rm -rf "$PG_ROOT"
	mv -T "$r" "$PG_ROOT"
	log "trixie root ready at $PG_ROOT ($(($(now_ms) - t0)) ms)"
	exec 8>&-
}

# ---------------------------------------------------------------------------------------------
# Cache: tools from Debian trixie in the same root (promtool, kcat)
# ---------------------------------------------------------------------------------------------

# promtool lints Heimdall's /metrics (`promtool check metrics`, internal/e2e/metrics_test.go); kcat
# is an independent Kafka client (librdkafka) for the stack's probes and the tests: trixie's
# librdkafka speaks SCRAM to Kafka 4, the host's Debian 12 one (2.0) does not. Each is added to the
# root in place, once, so roots built before keep their PostgreSQL (no rebuild). Debian's
# prometheus ships promtool as its own package: only that is installed (no server, service or user).
ROOT_TOOLS=(promtool:/usr/bin/promtool kcat:/usr/bin/kcat)

root_tool_ready() { [ -x "$PG_ROOT$2" ] && [ -f "$PG_ROOT/.heimdall-$1" ]; }

# ensure_root_tool PACKAGE BIN: apt-get install PACKAGE in the root unless BIN is there.
ensure_root_tool() {
	local pkg="$1" bin="$2" t0
	root_tool_ready "$pkg" "$bin" && return 0
	mkdir -p "$CACHE_DIR"
	exec 8>"$CACHE_DIR/.pg-root.lock"
	flock -w 1800 8 || die "timed out waiting for $CACHE_DIR/.pg-root.lock"
	if root_tool_ready "$pkg" "$bin"; then
		exec 8>&-
		return 0
	fi
	t0=$(now_ms)
	log "installing $pkg (Debian trixie) in the root (about 20 s)"
	chroot "$PG_ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
		/bin/sh -c "apt-get update -q && apt-get install -y -q --no-install-recommends $pkg &&
			apt-get clean && rm -rf /var/lib/apt/lists/*" >"$CACHE_DIR/$pkg-apt.log" 2>&1 ||
		die "apt-get install $pkg in the trixie root failed, see $CACHE_DIR/$pkg-apt.log"
	[ -x "$PG_ROOT$bin" ] || die "the root lacks $bin after apt-get install $pkg"
	touch "$PG_ROOT/.heimdall-$pkg"
	log "$pkg ready in $PG_ROOT ($(($(now_ms) - t0)) ms)"
	exec 8>&-
}

ensure_root_tools() {
	local t
	for t in "${ROOT_TOOLS[@]}"; do ensure_root_tool "${t%%:*}" "${t#*:}"; done
}

# write_root_wrapper DIR NAME BIN: DIR/NAME runs the root's BIN on the host with the root's own
# dynamic loader and libraries (the host's may be older), so it needs neither root nor chroot and
# sees host paths.
write_root_wrapper() {
	local dir="$1" name="$2" bin="$3" tmp arch
	arch="$(uname -m)"
	mkdir -p "$dir"
	tmp="$(mktemp "$dir/.$name.XXXXXX")"
	cat >"$tmp" <<-EOF
		#!/bin/sh
		# Written by deploy/stack.sh: $name from the stack's Debian trixie root.
		root='$PG_ROOT'
		bin="\$root$bin"
		for ld in "\$root"/lib64/ld-linux-*.so.* "\$root"/lib/ld-linux-*.so.*; do
			[ -x "\$ld" ] || continue
			if "\$ld" --verify "\$bin" >/dev/null 2>&1; then
				exec "\$ld" --library-path "\$root/lib/$arch-linux-gnu:\$root/usr/lib/$arch-linux-gnu" "\$bin" "\$@"
			fi
		done
		exec "\$bin" "\$@" # statically linked
	EOF
	chmod 0755 "$tmp"
	mv "$tmp" "$dir/$name"
}

PROMTOOL_WRAPPER="$STACK_DIR/bin/promtool"
KCAT_WRAPPER="$STACK_DIR/bin/kcat"

write_tool_wrappers() {
	write_root_wrapper "$STACK_DIR/bin" promtool /usr/bin/promtool
	write_root_wrapper "$STACK_DIR/bin" kcat /usr/bin/kcat
}

# PostgreSQL 17 client tools from the same root, for `heimdall backup` and `heimdall restore`
# (HEIMDALL_PG_BIN_DIR in the env file): the host's own client may be another major version, and
# pg_dump must match the server's. Same technique as the promtool wrapper: the root's loader and
# libraries, no root or chroot needed.
PG_CLIENT_DIR="$STACK_DIR/pgbin"

write_pg_client_wrappers() {
	local b
	for b in pg_dump pg_restore psql; do write_root_wrapper "$PG_CLIENT_DIR" "$b" "$PG_BIN/$b"; done
}

pg_uid() { awk -F: '$1 == "postgres" { print $3 }' "$PG_ROOT/etc/passwd"; }
pg_gid() { awk -F: '$1 == "postgres" { print $4 }' "$PG_ROOT/etc/passwd"; }

# in_pg_root USERSPEC CMD...: run CMD inside the trixie root, in a private mount namespace where
# $PG_DIR is bind-mounted at $PG_MNT and /dev/shm is a private tmpfs (PostgreSQL's dynamic shared
# memory). The mounts vanish with the last process of the namespace; the host sees none of them.
in_pg_root() {
	local userspec="$1"
	shift
	unshare --mount --propagation private -- /bin/sh -c '
		set -e
		root="$1"; src="$2"; mnt="$3"; userspec="$4"; shift 4
		mount --bind "$src" "$root$mnt"
		mount -t tmpfs -o mode=1777,size=512m heimdall-shm "$root/dev/shm"
		exec chroot --userspec="$userspec" "$root" /usr/bin/env -i \
			PATH=/usr/lib/postgresql/17/bin:/usr/bin:/bin LANG=C.UTF-8 LC_ALL=C.UTF-8 \
			HOME=/nonexistent "$@"
	' in_pg_root "$PG_ROOT" "$PG_DIR" "$PG_MNT" "$userspec" "$@"
}

# ---------------------------------------------------------------------------------------------
# Cache: Kafka jars
# ---------------------------------------------------------------------------------------------

kafka_home() { echo "$CACHE_DIR/kafka-$(sha256sum "$KAFKA_POM" | cut -c1-12)"; }

ensure_kafka_jars() {
	local home
	home="$(kafka_home)"
	[ -f "$home/.heimdall-ready" ] && return 0
	mkdir -p "$CACHE_DIR"
	exec 7>"$CACHE_DIR/.kafka.lock"
	flock -w 1800 7 || die "timed out waiting for $CACHE_DIR/.kafka.lock"
	if [ -f "$home/.heimdall-ready" ]; then
		exec 7>&-
		return 0
	fi
	local t0 tmp
	t0=$(now_ms)
	tmp="$home.tmp.$$"
	rm -rf "$home".tmp.*
	mkdir -p "$tmp/libs"
	log "fetching Kafka jars with Maven (deploy/kafka/pom.xml)"
	(cd "$REPO_DIR/deploy/kafka" && mvn -q -B -f "$KAFKA_POM" dependency:copy-dependencies \
		-DoutputDirectory="$tmp/libs" -DincludeScope=runtime) >"$CACHE_DIR/kafka-mvn.log" 2>&1 ||
		die "mvn dependency:copy-dependencies failed, see $CACHE_DIR/kafka-mvn.log"
	ls "$tmp"/libs/kafka_2.13-*.jar >/dev/null 2>&1 || die "no kafka_2.13 jar after mvn"
	cp "$KAFKA_POM" "$tmp/pom.xml"
	touch "$tmp/.heimdall-ready"
	rm -rf "$home"
	mv -T "$tmp" "$home"
	log "Kafka jars ready at $home ($(($(now_ms) - t0)) ms)"
	exec 7>&-
}

# ---------------------------------------------------------------------------------------------
# Development CA and leaf certificates
# ---------------------------------------------------------------------------------------------

LEAVES=(postgres kafka keycloak heimdall)

ca_valid() {
	[ -s "$CA_DIR/ca.crt" ] && [ -s "$CA_DIR/ca.key" ] &&
		openssl x509 -in "$CA_DIR/ca.crt" -noout -checkend 2592000 >/dev/null 2>&1 &&
		[ "$(openssl x509 -in "$CA_DIR/ca.crt" -noout -pubkey | openssl sha256)" = \
			"$(openssl pkey -in "$CA_DIR/ca.key" -pubout | openssl sha256)" ]
}

leaf_valid() {
	local n="$1"
	[ -s "$CERT_DIR/$n.crt" ] && [ -s "$CERT_DIR/$n.key" ] &&
		openssl verify -CAfile "$CA_DIR/ca.crt" -purpose sslserver "$CERT_DIR/$n.crt" >/dev/null 2>&1 &&
		{ [ "$n" != kafka ] || openssl verify -CAfile "$CA_DIR/ca.crt" -purpose sslclient "$CERT_DIR/$n.crt" >/dev/null 2>&1; } &&
		openssl x509 -in "$CERT_DIR/$n.crt" -noout -checkend 2592000 >/dev/null 2>&1 &&
		[ "$(openssl x509 -in "$CERT_DIR/$n.crt" -noout -pubkey | openssl sha256)" = \
			"$(openssl pkey -in "$CERT_DIR/$n.key" -pubout | openssl sha256)" ]
}

ensure_ca() {
	mkdir -p "$CA_DIR" "$CERT_DIR"
	chmod 0755 "$CA_DIR" "$CERT_DIR"
	if ! ca_valid; then
		log "creating the development CA (ECDSA P-256)"
		rm -f "$CA_DIR"/ca.* "$CERT_DIR"/*
		(
			umask 077
			openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$CA_DIR/ca.key.tmp"
		)
		openssl req -x509 -new -key "$CA_DIR/ca.key.tmp" -sha256 -days 3650 \
			-subj "/O=Heimdall development/CN=Heimdall Development CA $(hostname -s 2>/dev/null || echo host) $(date -u +%Y%m%d%H%M%S)" \
			-addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
			-addext "keyUsage=critical,keyCertSign,cRLSign" \
			-addext "subjectKeyIdentifier=hash" \
			-out "$CA_DIR/ca.crt.tmp" 2>/dev/null
		mv "$CA_DIR/ca.key.tmp" "$CA_DIR/ca.key"
		mv "$CA_DIR/ca.crt.tmp" "$CA_DIR/ca.crt"
	fi
	chmod 0600 "$CA_DIR/ca.key"
	chmod 0644 "$CA_DIR/ca.crt"
	local n
	for n in "${LEAVES[@]}"; do
		leaf_valid "$n" && continue
		log "issuing the $n leaf certificate"
		issue_cert "$n" "/O=Heimdall development/CN=heimdall-dev-$n" \
			"serverAuth$([ "$n" = kafka ] && echo ",clientAuth")" \
			"DNS:localhost,IP:127.0.0.1,IP:::1${HEIMDALL_CERT_EXTRA_SANS:+,$HEIMDALL_CERT_EXTRA_SANS}"
		leaf_valid "$n" || die "the new $n certificate does not verify against the CA"
	done
	ensure_client_cert kafka-client-heimdall heimdall
	chmod 0600 "$CERT_DIR"/*.key
	chmod 0644 "$CERT_DIR"/*.crt
}

# ensure_client_cert NAME CN: a client certificate (clientAuth only) for a Kafka principal on the
# broker's mutual-TLS listener, whose rule maps the subject's CN to the principal's name.
ensure_client_cert() {
	local n="$1" cn="$2" ext
	if [ -s "$CERT_DIR/$n.crt" ] && [ -s "$CERT_DIR/$n.key" ] &&
		openssl verify -CAfile "$CA_DIR/ca.crt" -purpose sslclient "$CERT_DIR/$n.crt" >/dev/null 2>&1 &&
		openssl x509 -in "$CERT_DIR/$n.crt" -noout -checkend 2592000 >/dev/null 2>&1; then
		return 0
	fi
	log "issuing the $n client certificate (CN=$cn)"
	issue_cert "$n" "/O=Heimdall development/OU=kafka-client/CN=$cn" clientAuth ""
}

# issue_cert NAME SUBJECT EKU SANS: a P-256 key and a certificate of the development CA for it
# ($CERT_DIR/NAME.key, NAME.crt), for the extended key usages EKU and, unless empty, the
# subject alternative names SANS.
issue_cert() {
	local n="$1" subject="$2" eku="$3" sans="$4" ext
	ext="$(mktemp)"
	{
		echo "basicConstraints=critical,CA:FALSE"
		echo "keyUsage=critical,digitalSignature"
		echo "extendedKeyUsage=$eku"
		[ -z "$sans" ] || echo "subjectAltName=$sans"
		echo "subjectKeyIdentifier=hash"
		echo "authorityKeyIdentifier=keyid"
	} >"$ext"
	(
		umask 077
		openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$CERT_DIR/$n.key.tmp"
	)
	openssl req -new -key "$CERT_DIR/$n.key.tmp" -subj "$subject" -out "$CERT_DIR/$n.csr" 2>/dev/null
	openssl x509 -req -in "$CERT_DIR/$n.csr" -CA "$CA_DIR/ca.crt" -CAkey "$CA_DIR/ca.key" \
		-set_serial "0x$(openssl rand -hex 16)" -days 825 -sha256 -extfile "$ext" \
		-out "$CERT_DIR/$n.crt.tmp" 2>/dev/null
	rm -f "$ext" "$CERT_DIR/$n.csr"
	mv "$CERT_DIR/$n.key.tmp" "$CERT_DIR/$n.key"
	mv "$CERT_DIR/$n.crt.tmp" "$CERT_DIR/$n.crt"
}

# ---------------------------------------------------------------------------------------------
# Secrets and env file
# ---------------------------------------------------------------------------------------------

secret() { # secret NAME [base64]: a random secret kept in $SECRETS_DIR (hex, or 32 bytes base64)
	local f="$SECRETS_DIR/$1"
	if [ ! -s "$f" ]; then
		mkdir -p "$SECRETS_DIR"
		chmod 0700 "$SECRETS_DIR"
		(
			umask 077
			if [ "${2:-}" = base64 ]; then
				openssl rand -base64 32 >"$f.tmp"
			else
				openssl rand -hex 24 >"$f.tmp"
			fi
		)
		mv "$f.tmp" "$f"
	fi
	cat "$f"
}

write_env() {
	local pw_app pw_admin cli_secret master pk1 tmp ca="$CA_DIR/ca.crt"
	pw_app="$(secret pg-heimdall)"
	pw_admin="$(secret pg-postgres)"
	# PII keys of the development stack: random per stack, never committed.
	master="$(secret pii-master-key base64)"
	pk1="$(secret pii-pseudonym-key-pk1 base64)"
	# The tools' client (heimdall ingest, heimdall token) and its secret, generated for this stack
	# and imported into Keycloak with the realm.
	cli_secret="$(secret "$(kc_secret_name heimdall-cli)")"
	tmp="$(mktemp "$STACK_DIR/.env.XXXXXX")"
	chmod 0600 "$tmp"
	cat >"$tmp" <<-EOF
		# Written by deploy/stack.sh: the Heimdall development stack. Source it: . $ENV_FILE
		export HEIMDALL_STACK_DIR='$STACK_DIR'
		export HEIMDALL_CA_FILE='$ca'
		export HEIMDALL_TLS_CERT_FILE='$CERT_DIR/heimdall.crt'
		export HEIMDALL_TLS_KEY_FILE='$CERT_DIR/heimdall.key'
		export HEIMDALL_POSTGRES_URL='postgres://heimdall:$pw_app@localhost:$PG_PORT/heimdall?sslmode=verify-full&sslrootcert=$ca'
		export HEIMDALL_POSTGRES_ADMIN_URL='postgres://postgres:$pw_admin@localhost:$PG_PORT/postgres?sslmode=verify-full&sslrootcert=$ca'
		export HEIMDALL_PG_DATA_DIR='$PG_DATA'
		export HEIMDALL_KAFKA_BROKERS='localhost:$KAFKA_PORT'
		export HEIMDALL_KAFKA_CONTROLLER='localhost:$KAFKA_CONTROLLER_PORT'
		export HEIMDALL_KAFKA_MTLS_BROKERS='localhost:$KAFKA_MTLS_PORT'
		export HEIMDALL_KAFKA_DATA_DIR='$KAFKA_DIR/data'
		export HEIMDALL_OIDC_ISSUER='https://localhost:$KC_PORT/realms/$KC_REALM'
		export HEIMDALL_DEV_CREDENTIALS='$STACK_DIR/credentials.json'
		export HEIMDALL_KAFKA_SASL_MECHANISM='SCRAM-SHA-512'
		export HEIMDALL_KAFKA_USER='heimdall'
		export HEIMDALL_KAFKA_PASSWORD='$(secret kafka-heimdall)'
		export HEIMDALL_CLIENT_ID='heimdall-cli'
		export HEIMDALL_CLIENT_SECRET='$cli_secret'
		export HEIMDALL_MASTER_KEY='$master'
		export HEIMDALL_PSEUDONYM_KEYS='pk1=$pk1'
		export HEIMDALL_PROMTOOL='$PROMTOOL_WRAPPER'
		export HEIMDALL_KCAT='$KCAT_WRAPPER'
		export HEIMDALL_PG_BIN_DIR='$PG_CLIENT_DIR'
	EOF
	mv "$tmp" "$ENV_FILE"
}

# ---------------------------------------------------------------------------------------------
# Process helpers
# ---------------------------------------------------------------------------------------------

# pid_matches PID PATTERN: PID is alive and its command line contains PATTERN.
pid_matches() {
	local pid="$1" pat="$2"
	[ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$pat"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# port_listening PORT: something listens on 127.0.0.1:PORT (without connecting, when ss exists).
port_listening() {
	if command -v ss >/dev/null 2>&1; then
		ss -Hltn "( sport = :$1 )" 2>/dev/null | grep -q .
	else
		port_open "$1"
	fi
}

# stop_pid NAME PID SIGNAL TIMEOUT_S
stop_pid() {
	local name="$1" pid="$2" sig="$3" timeout="$4" i
	kill "-$sig" "$pid" 2>/dev/null || return 0
	for ((i = 0; i < timeout * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || {
			log "$name stopped"
			return 0
		}
		sleep 0.1
	done
	log "$name did not stop within ${timeout}s: SIGKILL"
	kill -KILL "$pid" 2>/dev/null || true
}

# daemon PIDFILE LOGFILE CMD...: start CMD in its own session, detached from this shell.
daemon() {
	local pidfile="$1" logfile="$2"
	shift 2
	rm -f "$pidfile"
	setsid -f /bin/sh -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" </dev/null >>"$logfile" 2>&1
	local i
	for ((i = 0; i < 50; i++)); do
		[ -s "$pidfile" ] && return 0
		sleep 0.1
	done
	die "could not start $*"
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------------------------

pg_pid() {
	local pid
	[ -r "$PG_DATA/postmaster.pid" ] || return 1
	pid="$(head -n1 "$PG_DATA/postmaster.pid")"
	pid_matches "$pid" "postgres" || return 1
	echo "$pid"
}

# pg_psql ROLE DB [psql args]: psql from the root, as root, over TLS with the dev CA (there is no
# unix socket; plaintext TCP is refused by pg_hba.conf). Passwords come from a root-only passfile,
# never from a command line.
pg_psql() {
	local role="$1" db="$2"
	shift 2
	if [ ! -s "$PG_DIR/root.pgpass" ]; then
		(
			umask 077
			printf '*:*:*:postgres:%s\n*:*:*:heimdall:%s\n' "$(secret pg-postgres)" "$(secret pg-heimdall)" >"$PG_DIR/root.pgpass.tmp"
		)
		mv "$PG_DIR/root.pgpass.tmp" "$PG_DIR/root.pgpass"
	fi
	in_pg_root 0:0 psql -X -q -v ON_ERROR_STOP=1 \
		"host=localhost hostaddr=127.0.0.1 port=$PG_PORT user=$role dbname=$db sslmode=verify-full sslrootcert=$PG_MNT/tls/ca.crt passfile=$PG_MNT/root.pgpass connect_timeout=5" "$@"
}

pg_write_config() {
	local uid="$1" gid="$2"
	install -d -o "$uid" -g "$gid" -m 0700 "$PG_DIR/tls"
	install -o "$uid" -g "$gid" -m 0644 "$CERT_DIR/postgres.crt" "$PG_DIR/tls/server.crt"
	install -o "$uid" -g "$gid" -m 0600 "$CERT_DIR/postgres.key" "$PG_DIR/tls/server.key"
	install -o "$uid" -g "$gid" -m 0644 "$CA_DIR/ca.crt" "$PG_DIR/tls/ca.crt"
	cat >"$PG_DATA/heimdall.conf" <<-EOF
		# Written by deploy/stack.sh on every 'up'; edit the script, not this file.
		listen_addresses = '127.0.0.1'
		port = $PG_PORT
		unix_socket_directories = ''    # no socket: every client, admin included, comes over TLS
		max_connections = 100
		shared_preload_libraries = 'age'
		ssl = on
		ssl_cert_file = '$PG_MNT/tls/server.crt'
		ssl_key_file = '$PG_MNT/tls/server.key'
		ssl_min_protocol_version = 'TLSv1.3'
		ssl_max_protocol_version = 'TLSv1.3'
		password_encryption = 'scram-sha-256'
		# a 2-core development box
		fsync = on
		synchronous_commit = on
		shared_buffers = 256MB
		effective_cache_size = 1GB
		work_mem = 8MB
		maintenance_work_mem = 128MB
		max_worker_processes = 4
		max_parallel_workers = 2
		max_parallel_workers_per_gather = 1
		max_parallel_maintenance_workers = 1
		dynamic_shared_memory_type = posix
		timezone = 'UTC'
		log_timezone = 'UTC'
		logging_collector = off
		log_line_prefix = '%m [%p] %q%u@%d '
		log_connections = off
	EOF
	chown "$uid:$gid" "$PG_DATA/heimdall.conf"
	grep -q "^include_if_exists = 'heimdall.conf'" "$PG_DATA/postgresql.conf" ||
		echo "include_if_exists = 'heimdall.conf'" >>"$PG_DATA/postgresql.conf"
	cat >"$PG_DATA/pg_hba.conf" <<-'EOF'
		# Written by deploy/stack.sh: TLS with SCRAM only; everything else is rejected.
		# TYPE     DATABASE  USER  ADDRESS       METHOD
		hostssl    all       all   127.0.0.1/32  scram-sha-256
		hostssl    all       all   ::1/128       scram-sha-256
		hostnossl  all       all   0.0.0.0/0     reject
		hostnossl  all       all   ::/0          reject
	EOF
	chown "$uid:$gid" "$PG_DATA/pg_hba.conf"
}

pg_start() {
	local uid gid
	uid="$(pg_uid)"
	gid="$(pg_gid)"
	[ -n "$uid" ] && [ -n "$gid" ] || die "no postgres user in $PG_ROOT/etc/passwd"
	# $PG_DIR belongs to the root's unprivileged postgres user; PostgreSQL refuses to run as root.
	install -d -o "$uid" -g "$gid" -m 0700 "$PG_DIR"
	if pg_pid >/dev/null; then
		return 0
	fi
	if [ -f "$PG_DATA/PG_VERSION" ] && [ ! -s "$SECRETS_DIR/pg-postgres" ]; then
		die "$PG_DATA exists but its passwords ($SECRETS_DIR) are gone: run deploy/stack.sh clean"
	fi
	if [ ! -f "$PG_DATA/PG_VERSION" ]; then
		log "initdb $PG_DATA"
		rm -rf "$PG_DATA" "$PG_DIR/bootstrap.done"
		install -d -o "$uid" -g "$gid" -m 0700 "$PG_DATA"
		install -o "$uid" -g "$gid" -m 0600 /dev/null "$PG_DIR/pwfile"
		secret pg-postgres >"$PG_DIR/pwfile"
		in_pg_root "$uid:$gid" initdb -D "$PG_MNT/data" -U postgres --pwfile="$PG_MNT/pwfile" \
			--auth=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 --data-checksums \
			>"$LOG_DIR/initdb.log" 2>&1 || {
			rm -f "$PG_DIR/pwfile"
			rm -rf "$PG_DATA"
			die "initdb failed, see $LOG_DIR/initdb.log"
		}
		rm -f "$PG_DIR/pwfile"
	fi
	pg_write_config "$uid" "$gid"
	rm -f "$PG_DATA/postmaster.pid" # stale: pg_pid found no live postmaster for it
	log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
	{ echo "---- $(date -u +%FT%TZ) start"; } >>"$LOG_DIR/postgres.log"
	setsid -f bash "$SELF" __pg_exec "$PG_ROOT" "$PG_DIR" "$uid:$gid" </dev/null >>"$LOG_DIR/postgres.log" 2>&1
}

pg_wait() {
	local i
	for ((i = 0; i < 600; i++)); do
		if [ -s "$PG_DATA/postmaster.pid" ] && pg_psql postgres postgres -tA -c 'select 1' >/dev/null 2>&1; then
			return 0
		fi
		if ((i > 20)) && ! pg_pid >/dev/null; then
			tail -n 20 "$LOG_DIR/postgres.log" >&2 || true
			die "PostgreSQL is not running, see $LOG_DIR/postgres.log"
		fi
		sleep 0.1
	done
	die "PostgreSQL did not accept a TLS query within 60 s, see $LOG_DIR/postgres.log"
}

# The app role and database; AGE and pgvector in template1 (so a database that heimdall creates
# itself has them) and in heimdall. Idempotent.
#
# AGE as a non-superuser: CREATE EXTENSION age puts everything in schema ag_catalog, owned by the
# superuser. create_graph()/create_vlabel()/create_elabel() write the catalog tables ag_graph and
# ag_label, so the app role needs USAGE on ag_catalog and DML on its tables (sequences too, for
# future AGE versions). The graph's own schema is created by, and owned by, the role that calls
# create_graph, so label tables, indexes and cypher() work without more grants. LOAD 'age' is
# superuser-only (non-superusers may load only from $libdir/plugins), which is why AGE is in
# shared_preload_libraries; LOAD '$libdir/plugins/age' also works (a symlink in the root).
pg_bootstrap() {
	local pw_app grants
	[ -f "$PG_DIR/bootstrap.done" ] && return 0
	log "bootstrapping roles, database, extensions"
	pw_app="$(secret pg-heimdall)"
	grants="CREATE EXTENSION IF NOT EXISTS age;
CREATE EXTENSION IF NOT EXISTS vector;
GRANT USAGE ON SCHEMA ag_catalog TO heimdall;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ag_catalog TO heimdall;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA ag_catalog TO heimdall;"
	pg_psql postgres postgres >/dev/null <<-EOF
		SET client_min_messages = warning;
		DO \$\$ BEGIN
		  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'heimdall') THEN CREATE ROLE heimdall; END IF;
		END \$\$;
		ALTER ROLE heimdall WITH LOGIN CREATEDB NOSUPERUSER NOCREATEROLE PASSWORD '$pw_app';
		\\connect template1
		SET client_min_messages = warning;
		$grants
		\\connect postgres
		SELECT 'CREATE DATABASE heimdall OWNER heimdall TEMPLATE template1'
		 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'heimdall') \\gexec
		\\connect heimdall
		SET client_min_messages = warning;
		$grants
	EOF
	pg_verify_app_role
	touch "$PG_DIR/bootstrap.done"
}

# What the app needs from AGE and pgvector, done as the heimdall role in a database it creates.
pg_verify_app_role() {
	local db="heimdall_stack_check"
	pg_psql heimdall postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" >/dev/null
	pg_psql heimdall postgres -c "CREATE DATABASE $db" >/dev/null
	pg_psql heimdall "$db" -tA >"$LOG_DIR/pg-verify.log" 2>&1 <<-'EOF' || {
		SET client_min_messages = warning;
		LOAD '$libdir/plugins/age';
		SET search_path = ag_catalog, "$user", public;
		SELECT create_graph('abc');
		SELECT create_vlabel('abc', 'Person');
		SELECT create_elabel('abc', 'KNOWS');
		INSERT INTO abc."Person" (properties) VALUES ('{"name": "ann"}'::agtype);
		CREATE INDEX person_props ON abc."Person" USING gin (properties);
		SELECT * FROM cypher('abc', $$ MATCH (a:Person {name: 'ann'}) CREATE (a)-[:KNOWS]->(:Person {name: 'bob'}) $$) AS (r agtype);
		SELECT * FROM cypher('abc', $$ MATCH (a:Person)-[:KNOWS]->(b:Person) RETURN b.name $$) AS (name agtype);
		CREATE TABLE public.emb (id int PRIMARY KEY, v vector(3));
		INSERT INTO public.emb VALUES (1, '[1,2,3]'), (2, '[3,2,1]');
		CREATE INDEX ON public.emb USING hnsw (v vector_l2_ops);
		SELECT id FROM public.emb ORDER BY v <-> '[1,2,4]' LIMIT 1;
		SELECT drop_graph('abc', true);
	EOF
		cat "$LOG_DIR/pg-verify.log" >&2
		die "the heimdall role cannot use AGE/pgvector (see above)"
	}
	grep -qx '"bob"' "$LOG_DIR/pg-verify.log" || die "cypher MATCH as heimdall returned no row, see $LOG_DIR/pg-verify.log"
	pg_psql heimdall postgres -c "DROP DATABASE $db" >/dev/null
	log "verified: heimdall (not superuser) creates a database, an AGE graph, labels, indexes, cypher queries, vectors"
}

pg_stop() {
	local pid
	pid="$(pg_pid)" || return 0
	stop_pid postgres "$pid" INT 60
}

# ---------------------------------------------------------------------------------------------
# Kafka
# ---------------------------------------------------------------------------------------------

kafka_pid() {
	local pid
	[ -r "$RUN_DIR/kafka.pid" ] || return 1
	pid="$(cat "$RUN_DIR/kafka.pid")"
	pid_matches "$pid" "$KAFKA_DIR/server.properties" || return 1
	echo "$pid"
}

kafka_java() { # kafka_java HEAP CLASS ARGS...
	local heap="$1"
	shift
	java "-Xmx$heap" -Djava.awt.headless=true "-Dlog4j2.configurationFile=$KAFKA_DIR/log4j2-tools.properties" \
		-cp "$(kafka_home)/libs/*" "$@"
}

kafka_write_config() {
	mkdir -p "$KAFKA_DIR/data" "$KAFKA_DIR/tls"
	chmod 0700 "$KAFKA_DIR/tls"
	# PEM key store: the PKCS#8 key followed by the certificate chain.
	(
		umask 077
		cat "$CERT_DIR/kafka.key" "$CERT_DIR/kafka.crt" >"$KAFKA_DIR/tls/keystore.pem"
	)
	cat >"$KAFKA_DIR/server.properties" <<-EOF
		# Written by deploy/stack.sh on every 'up'.
		process.roles=broker,controller
		node.id=1
		controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
		# Clients: SASL/SCRAM-SHA-512 over TLS 1.3. The controller listener takes only the
		# broker itself (mutual TLS with the kafka leaf, which alone has clientAuth).
		# MTLS is the alternative for clients that authenticate with a certificate: the rule maps
		# CN=<name>,OU=kafka-client,O=Heimdall development to the principal <name>.
		listeners=SASL_SSL://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT,MTLS://127.0.0.1:$KAFKA_MTLS_PORT
		advertised.listeners=SASL_SSL://127.0.0.1:$KAFKA_PORT,MTLS://127.0.0.1:$KAFKA_MTLS_PORT
		listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:SSL,MTLS:SSL
		listener.name.mtls.ssl.client.auth=required
		listener.name.mtls.ssl.principal.mapping.rules=RULE:^CN=([a-z][a-z0-9-]*),OU=kafka-client,O=Heimdall development\$/\$1/,DEFAULT
		inter.broker.listener.name=SASL_SSL
		controller.listener.names=CONTROLLER
		sasl.enabled.mechanisms=SCRAM-SHA-512
		sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
		listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$(secret kafka-admin)";
		listener.name.controller.ssl.client.auth=required
		# ACLs: deny unless allowed; the admin and the broker (its certificate on the controller
		# listener) are the only super users.
		authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
		allow.everyone.if.no.acl.found=false
		super.users=User:admin;User:CN=heimdall-dev-kafka,O=Heimdall development
		ssl.keystore.type=PEM
		ssl.keystore.location=$KAFKA_DIR/tls/keystore.pem
		ssl.truststore.type=PEM
		ssl.truststore.location=$CA_DIR/ca.crt
		ssl.protocol=TLSv1.3
		ssl.enabled.protocols=TLSv1.3
		ssl.endpoint.identification.algorithm=https
		log.dirs=$KAFKA_DIR/data
		num.partitions=1
		default.replication.factor=1
		auto.create.topics.enable=false
		offsets.topic.replication.factor=1
		offsets.topic.num.partitions=10
		transaction.state.log.replication.factor=1
		transaction.state.log.min.isr=1
		share.coordinator.state.topic.replication.factor=1
		share.coordinator.state.topic.min.isr=1
		group.initial.rebalance.delay.ms=0
		num.network.threads=2
		num.io.threads=2
		log.retention.hours=168
	EOF
	# The admin's client settings for Kafka's own tools (ACLs); root-only.
	(
		umask 077
		cat >"$KAFKA_DIR/admin.properties" <<-EOF
			security.protocol=SASL_SSL
			sasl.mechanism=SCRAM-SHA-512
			sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$(secret kafka-admin)";
			ssl.truststore.type=PEM
			ssl.truststore.location=$CA_DIR/ca.crt
			ssl.protocol=TLSv1.3
			ssl.enabled.protocols=TLSv1.3
		EOF
	)
	rm -f "$KAFKA_DIR/client.properties"
	(
		umask 077
		cat >"$KAFKA_DIR/admin.kcat" <<-EOF
			security.protocol=SASL_SSL
			sasl.mechanisms=SCRAM-SHA-512
			sasl.username=admin
			sasl.password=$(secret kafka-admin)
			ssl.ca.location=$CA_DIR/ca.crt
			ssl.endpoint.identification.algorithm=https
		EOF
	)
	cat >"$KAFKA_DIR/log4j2.properties" <<-EOF
		status = warn
		appender.file.type = RollingFile
		appender.file.name = file
		appender.file.fileName = $LOG_DIR/kafka.log
		appender.file.filePattern = $LOG_DIR/kafka.log.%i
		appender.file.layout.type = PatternLayout
		appender.file.layout.pattern = [%d] %p %m (%c)%n
		appender.file.policies.type = Policies
		appender.file.policies.size.type = SizeBasedTriggeringPolicy
		appender.file.policies.size.size = 20MB
		appender.file.strategy.type = DefaultRolloverStrategy
		appender.file.strategy.max = 3
		rootLogger.level = INFO
		rootLogger.appenderRef.file.ref = file
		logger.kafka.name = org.apache.kafka
		logger.kafka.level = INFO
	EOF
	cat >"$KAFKA_DIR/log4j2-tools.properties" <<-'EOF'
		status = warn
		appender.err.type = Console
		appender.err.name = err
		appender.err.target = SYSTEM_ERR
		appender.err.layout.type = PatternLayout
		appender.err.layout.pattern = [%d] %p %m (%c)%n
		rootLogger.level = WARN
		rootLogger.appenderRef.err.ref = err
	EOF
}

kafka_start() {
	mkdir -p "$KAFKA_DIR"
	if kafka_pid >/dev/null; then
		return 0
	fi
	kafka_write_config
	if [ -f "$KAFKA_DIR/data/meta.properties" ] && [ ! -f "$KAFKA_DIR/data/.heimdall-scram" ]; then
		log "the Kafka storage predates SASL/SCRAM and ACLs: formatting it anew (development data is lost)"
		rm -rf "$KAFKA_DIR/data"
		mkdir -p "$KAFKA_DIR/data"
	fi
	if [ ! -f "$KAFKA_DIR/data/meta.properties" ]; then
		local cid
		# A cluster id is 16 random bytes in URL-safe base64; one that starts with "-" would be
		# read as an option by kafka-storage (as Kafka's own Uuid.randomUuid, draw again).
		cid="$(cat "$KAFKA_DIR/cluster.id" 2>/dev/null || true)"
		while [ -z "$cid" ] || [ "${cid#-}" != "$cid" ]; do
			cid="$(openssl rand 16 | base64 | tr '+/' '-_' | tr -d '=\n')"
		done
		echo -n "$cid" >"$KAFKA_DIR/cluster.id"
		log "formatting Kafka storage (cluster id $cid) with the SCRAM user admin"
		# The admin's SCRAM credential is part of the bootstrap metadata (the broker authenticates
		# to itself with it); the other principals are made by kafka_principals.
		kafka_java 256m kafka.tools.StorageTool format -t "$cid" -c "$KAFKA_DIR/server.properties" \
			--add-scram "SCRAM-SHA-512=[name=admin,password=$(secret kafka-admin)]" \
			>"$LOG_DIR/kafka-format.log" 2>&1 || die "Kafka storage format failed, see $LOG_DIR/kafka-format.log"
		touch "$KAFKA_DIR/data/.heimdall-scram"
	fi
	kafka_ports_wait
	log "starting Kafka on 127.0.0.1:$KAFKA_PORT (controller $KAFKA_CONTROLLER_PORT)"
	{ echo "---- $(date -u +%FT%TZ) start"; } >>"$LOG_DIR/kafka.out"
	daemon "$RUN_DIR/kafka.pid" "$LOG_DIR/kafka.out" \
		java -Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
		"-Dlog4j2.configurationFile=$KAFKA_DIR/log4j2.properties" \
		-cp "$(kafka_home)/libs/*" kafka.Kafka "$KAFKA_DIR/server.properties"
}

# kafka_ports_wait: the broker's ports lie in Linux's ephemeral range, so while the broker is down a
# client retrying 127.0.0.1:$KAFKA_PORT can be given that very port as its source and connect to
# itself; the socket then sits in TIME-WAIT and the broker cannot bind. Wait (up to 120 s) until no
# such self-connected socket is left. The broker's own connections that the kill left in TIME-WAIT
# do not matter: the JVM binds its listeners with SO_REUSEADDR.
kafka_ports_wait() {
	command -v ss >/dev/null 2>&1 || return 0
	local i
	for ((i = 0; i < 240; i++)); do
		ss -Htan "( ( sport = :$KAFKA_PORT and dport = :$KAFKA_PORT ) or ( sport = :$KAFKA_CONTROLLER_PORT and dport = :$KAFKA_CONTROLLER_PORT ) or ( sport = :$KAFKA_MTLS_PORT and dport = :$KAFKA_MTLS_PORT ) )" 2>/dev/null | grep -q . || return 0
		[ "$i" = 0 ] && log "waiting for self-connected sockets on ports $KAFKA_PORT/$KAFKA_CONTROLLER_PORT to close (TIME-WAIT)"
		sleep 0.5
	done
}

# TLS 1.3 handshake that verifies the certificate against the dev CA for name localhost.
tls_ok() { # tls_ok PORT [s_client args, e.g. a client certificate]
	local port="$1"
	shift
	openssl s_client -connect "127.0.0.1:$port" -servername localhost -verify_hostname localhost \
		-CAfile "$CA_DIR/ca.crt" -verify_return_error -tls1_3 -brief "$@" </dev/null >/dev/null 2>&1
}

# kafka_metadata_ok: as the admin, over SASL_SSL (TLS 1.3, dev CA, SCRAM-SHA-512), kcat gets the
# cluster's metadata and sees this broker (node 1) on this stack's port.
kafka_metadata_ok() {
	timeout 15 "$KCAT_WRAPPER" -F "$KAFKA_DIR/admin.kcat" -b "127.0.0.1:$KAFKA_PORT" -L -J -m 10 2>/dev/null |
		grep -q "\"id\":1,\"name\":\"127.0.0.1:$KAFKA_PORT\""
}

# KAFKA_ACLS lists the principals and their ACLs (see the file).
KAFKA_ACLS="$REPO_DIR/deploy/kafka/acls.txt"

kafka_principal_names() { awk '!/^[[:space:]]*(#|$)/ { print $1 }' "$KAFKA_ACLS" | sort -u; }

# kafka_principals: every principal of deploy/kafka/acls.txt as a SCRAM user with a generated
# password, with exactly its ACLs (deploy/kafka/principals, run as the admin on every up: idempotent).
kafka_principals() {
	local p
	for p in $(kafka_principal_names); do secret "kafka-$p" >/dev/null; done
	mkdir -p "$STACK_DIR/bin"
	(cd "$REPO_DIR" && go build -o "$STACK_DIR/bin/heimdall-kafka-principals" ./deploy/kafka/principals) \
		>"$LOG_DIR/kafka-principals-build.log" 2>&1 || die "go build ./deploy/kafka/principals failed, see $LOG_DIR/kafka-principals-build.log"
	"$STACK_DIR/bin/heimdall-kafka-principals" -brokers "127.0.0.1:$KAFKA_PORT" -ca "$CA_DIR/ca.crt" \
		-admin-password-file "$SECRETS_DIR/kafka-admin" -secrets "$SECRETS_DIR" -acls "$KAFKA_ACLS" \
		>>"$LOG_DIR/kafka-principals.log" 2>&1 || {
		tail -n 5 "$LOG_DIR/kafka-principals.log" >&2
		die "applying $KAFKA_ACLS failed, see $LOG_DIR/kafka-principals.log"
	}
}

kafka_wait() {
	local i restarts=0 limit=$((${HEIMDALL_KAFKA_WAIT_SECONDS:-120} * 10))
	for ((i = 0; i < limit; i++)); do
		# Connect only once the ports are listening: a connect to a closed port
		# in the ephemeral range can be given that port as its source and
		# connect to itself, and the broker could then not bind (see
		# kafka_ports_wait). A recovery after a crash can take minutes.
		if port_listening "$KAFKA_PORT" && port_listening "$KAFKA_CONTROLLER_PORT" && port_listening "$KAFKA_MTLS_PORT" &&
			tls_ok "$KAFKA_CONTROLLER_PORT" -cert "$CERT_DIR/kafka.crt" -key "$CERT_DIR/kafka.key" && kafka_metadata_ok; then
			return 0
		fi
		kafka_pid >/dev/null || {
			# Lost the race for the port to a self-connected client: wait and start again.
			if [ "${restarts:-0}" -lt 3 ] && tail -n 200 "$LOG_DIR/kafka.log" 2>/dev/null | grep -q "Address already in use"; then
				restarts=$((${restarts:-0} + 1))
				log "Kafka could not bind its port (attempt $restarts); starting it again"
				kafka_start
				continue
			fi
			tail -n 30 "$LOG_DIR/kafka.out" "$LOG_DIR/kafka.log" >&2 2>/dev/null || true
			die "Kafka exited, see $LOG_DIR/kafka.log and $LOG_DIR/kafka.out"
		}
		sleep 0.1
	done
	die "Kafka did not answer a metadata request over TLS within ${HEIMDALL_KAFKA_WAIT_SECONDS:-120} s (HEIMDALL_KAFKA_WAIT_SECONDS), see $LOG_DIR/kafka.log"
}

kafka_stop() {
	local pid
	pid="$(kafka_pid)" || {
		rm -f "$RUN_DIR/kafka.pid"
		return 0
	}
	stop_pid kafka "$pid" TERM 60
	rm -f "$RUN_DIR/kafka.pid"
}

# ---------------------------------------------------------------------------------------------
# OpenID Provider: Keycloak
# ---------------------------------------------------------------------------------------------
#
# The distribution (org.keycloak:keycloak-quarkus-dist, a zip on Maven Central) is fetched with
# Maven, unpacked and built once (`kc.sh build`) into the cache; each stack runs it optimised from
# a home of its own ($KC_DIR: its configuration, its H2 "dev-file" database and its import folder,
# with lib/, themes/ and providers/ linked to the cached build). Keycloak 26 needs Java 21 or
# later: keycloak_java_home finds one beside the host's Java 17.
#
# Why the embedded dev-file database and not the stack's PostgreSQL: the provider stays up (and
# tokens keep being issued) while a test kills PostgreSQL, Heimdall's database roles never see
# the provider's tables, and the provider's state is disposable: it is the realm file imported
# again with this stack's generated secrets.

KC_VERSION="26.7.3"
# Bump KC_RECIPE whenever the build options change: a new name forces a new build.
KC_RECIPE="kc-$KC_VERSION-devfile-v1"
KC_CACHE="$CACHE_DIR/$KC_RECIPE"
KC_REALM_FILE="$REPO_DIR/deploy/keycloak/heimdall-realm.json"
KC_REALM="heimdall"
KC_CLIENTS=(heimdall-cli heimdall-peer heimdall-peer-2 heimdall-peer-3 heimdall-noperm)
KC_USERS=(alice bob dana carol erin)
KC_ADMIN_CLIENT="heimdall-stack-admin"

# keycloak_java_home: the JAVA_HOME of the newest JDK 21+ on this machine (HEIMDALL_KEYCLOAK_JAVA_HOME
# first, then JAVA_HOME, then every JVM under /usr/lib/jvm), or nothing.
keycloak_java_home() {
	local c v major best="" best_major=0
	for c in "${HEIMDALL_KEYCLOAK_JAVA_HOME:-}" "${JAVA_HOME:-}" /usr/lib/jvm/*; do
		[ -n "$c" ] && [ -x "$c/bin/java" ] || continue
		v="$("$c/bin/java" -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ { print $2; exit }')"
		major="${v%%.*}"
		[[ "$major" =~ ^[0-9]+$ ]] || continue
		if [ -n "${HEIMDALL_KEYCLOAK_JAVA_HOME:-}" ] && [ "$c" = "$HEIMDALL_KEYCLOAK_JAVA_HOME" ] && ((major >= 21)); then
			echo "$c"
			return 0
		fi
		if ((major >= 21 && major > best_major)); then
			best="$c"
			best_major=$major
		fi
	done
	[ -n "$best" ] && echo "$best"
}

keycloak_java() {
	local jh
	jh="$(keycloak_java_home)" || true
	[ -n "$jh" ] || die "Keycloak $KC_VERSION needs Java 21 or later and none was found (looked at \$HEIMDALL_KEYCLOAK_JAVA_HOME, \$JAVA_HOME and /usr/lib/jvm/*); install one and set HEIMDALL_KEYCLOAK_JAVA_HOME"
	echo "$jh"
}

keycloak_dist_ready() { [ -f "$KC_CACHE/.heimdall-ready" ] && [ -x "$KC_CACHE/bin/kc.sh" ]; }

ensure_keycloak_dist() {
	keycloak_dist_ready && return 0
	mkdir -p "$CACHE_DIR"
	exec 6>"$CACHE_DIR/.keycloak.lock"
	flock -w 1800 6 || die "timed out waiting for $CACHE_DIR/.keycloak.lock"
	if keycloak_dist_ready; then
		exec 6>&-
		return 0
	fi
	local t0 tmp jh zip
	t0=$(now_ms)
	jh="$(keycloak_java)"
	tmp="$KC_CACHE.tmp.$$"
	rm -rf "$KC_CACHE".tmp.*
	mkdir -p "$tmp/zip"
	log "fetching Keycloak $KC_VERSION with Maven (org.keycloak:keycloak-quarkus-dist)"
	(cd "$tmp" && mvn -q -B dependency:copy "-Dartifact=org.keycloak:keycloak-quarkus-dist:$KC_VERSION:zip" \
		-DoutputDirectory="$tmp/zip") >"$CACHE_DIR/keycloak-mvn.log" 2>&1 ||
		die "mvn dependency:copy of keycloak-quarkus-dist failed, see $CACHE_DIR/keycloak-mvn.log"
	zip="$tmp/zip/keycloak-quarkus-dist-$KC_VERSION.zip"
	[ -s "$zip" ] || die "no $zip after mvn"
	unzip -q "$zip" -d "$tmp/unpacked" || die "unzip $zip failed"
	mv -T "$tmp/unpacked/keycloak-$KC_VERSION" "$tmp/dist"
	log "building Keycloak once (kc.sh build --db=dev-file, about 30 s)"
	JAVA_HOME="$jh" "$tmp/dist/bin/kc.sh" build --db=dev-file >"$CACHE_DIR/keycloak-build.log" 2>&1 ||
		die "kc.sh build failed, see $CACHE_DIR/keycloak-build.log"
	touch "$tmp/dist/.heimdall-ready"
	rm -rf "$KC_CACHE"
	mv -T "$tmp/dist" "$KC_CACHE"
	rm -rf "$tmp"
	log "Keycloak ready at $KC_CACHE ($(($(now_ms) - t0)) ms)"
	exec 6>&-
}

kc_secret_name() { # kc_secret_name CLIENT|USER: the name of its secret in $SECRETS_DIR
	echo "keycloak-$1"
}

# kc_env_name PREFIX NAME: HEIMDALL_KC_SECRET_HEIMDALL_PEER_2 for (SECRET, heimdall-peer-2): the
# placeholder the realm file uses for a client secret (or a user's password, with PASSWORD).
kc_env_name() {
	echo "HEIMDALL_KC_$1_$(echo "$2" | tr 'a-z-' 'A-Z_')"
}

# write_dev_credentials: the development credentials, generated once per stack, in a root-only
# file the tests (internal/config/devstack) and the walk-through read: Keycloak's users, clients and
# bootstrap admin, and the Kafka principals.
write_dev_credentials() {
	local tmp c u p first=1
	tmp="$(mktemp "$STACK_DIR/.credentials.XXXXXX")"
	chmod 0600 "$tmp"
	{
		printf '{\n  "issuer": "https://localhost:%s/realms/%s",\n' "$KC_PORT" "$KC_REALM"
		printf '  "admin": {"realm": "master", "client_id": "%s", "client_secret": "%s"},\n' "$KC_ADMIN_CLIENT" "$(secret keycloak-admin)"
		printf '  "clients": {'
		for c in "${KC_CLIENTS[@]}"; do
			[ $first = 1 ] || printf ','
			first=0
			printf '\n    "%s": "%s"' "$c" "$(secret "$(kc_secret_name "$c")")"
		done
		printf '\n  },\n  "users": {'
		first=1
		for u in "${KC_USERS[@]}"; do
			[ $first = 1 ] || printf ','
			first=0
			printf '\n    "%s": "%s"' "$u" "$(secret "$(kc_secret_name "$u")")"
		done
		printf '\n  },\n  "kafka": {\n    "admin": "%s"' "$(secret kafka-admin)"
		for p in $(kafka_principal_names); do
			printf ',\n    "%s": "%s"' "$p" "$(secret "kafka-$p")"
		done
		printf '\n  }\n}\n'
	} >"$tmp"
	mv "$tmp" "$STACK_DIR/credentials.json"
	rm -f "$KC_DIR/credentials.json"
}

keycloak_pid() {
	local pid
	[ -r "$RUN_DIR/keycloak.pid" ] || return 1
	pid="$(cat "$RUN_DIR/keycloak.pid")"
	pid_matches "$pid" "-Dkc.home.dir=$KC_DIR" || return 1
	echo "$pid"
}

# keycloak_prepare: this stack's Keycloak home. A realm file that changed since the last import
# means a fresh provider database (the realm is imported again with the same secrets).
keycloak_prepare() {
	local d want
	mkdir -p "$KC_DIR/data/import" "$KC_DIR/conf" "$KC_DIR/tls"
	chmod 0700 "$KC_DIR" "$KC_DIR/tls"
	for d in lib themes providers; do
		ln -sfn "$KC_CACHE/$d" "$KC_DIR/$d"
	done
	cp -f "$KC_CACHE/conf/cache-ispn.xml" "$KC_DIR/conf/" 2>/dev/null || true
	printf '# Written by deploy/stack.sh; every setting is on the command line.\n' >"$KC_DIR/conf/keycloak.conf"
	install -m 0644 "$CERT_DIR/keycloak.crt" "$KC_DIR/tls/tls.crt"
	install -m 0600 "$CERT_DIR/keycloak.key" "$KC_DIR/tls/tls.key"
	if [ "$(cat "$KC_DIR/realm.imported" 2>/dev/null)" != "$(kc_realm_stamp)" ]; then
		[ -d "$KC_DIR/data/h2" ] && log "the realm file changed: Keycloak's database is created again"
		rm -rf "$KC_DIR/data/h2" "$KC_DIR/data/transaction-logs" "$KC_DIR/realm.imported"
	fi
	install -m 0600 "$KC_REALM_FILE" "$KC_DIR/data/import/$KC_REALM-realm.json"
}

kc_realm_stamp() { echo "$(sha256sum <"$KC_REALM_FILE" | cut -c1-64) $KC_RECIPE"; }

start_keycloak() {
	if keycloak_pid >/dev/null; then
		[ "$(cat "$KC_DIR/realm.imported" 2>/dev/null)" = "$(kc_realm_stamp)" ] && return 0
		log "the realm file changed since Keycloak imported it: restarting Keycloak"
		keycloak_stop
	fi
	local jh c u
	jh="$(keycloak_java)"
	port_listening "$KC_PORT" && die "port $KC_PORT (Keycloak, HEIMDALL_KEYCLOAK_PORT) is taken by another process: $(ss -Hltnp "( sport = :$KC_PORT )" 2>/dev/null | head -n1)"
	keycloak_prepare
	KC_PENDING_STAMP="$(kc_realm_stamp)" # written once it answers: the realm is imported
	log "starting Keycloak $KC_VERSION on https://localhost:$KC_PORT (realm $KC_REALM)"
	{ echo "---- $(date -u +%FT%TZ) start"; } >>"$LOG_DIR/keycloak.log"
	# The secrets reach the realm import through environment placeholders, and only this process
	# sees them. The bootstrap admin is a service account (client credentials) in the master realm.
	local envs=(
		"JAVA_HOME=$jh"
		"KC_BOOTSTRAP_ADMIN_CLIENT_ID=$KC_ADMIN_CLIENT"
		"KC_BOOTSTRAP_ADMIN_CLIENT_SECRET=$(secret keycloak-admin)"
	)
	for c in "${KC_CLIENTS[@]}"; do envs+=("$(kc_env_name SECRET "$c")=$(secret "$(kc_secret_name "$c")")"); done
	for u in "${KC_USERS[@]}"; do envs+=("$(kc_env_name PASSWORD "$u")=$(secret "$(kc_secret_name "$u")")"); done
	daemon "$RUN_DIR/keycloak.pid" "$LOG_DIR/keycloak.log" \
		env "${envs[@]}" \
		"$KC_CACHE/bin/kc.sh" start --optimized "-Dkc.home.dir=$KC_DIR" "-Djboss.server.config.dir=$KC_DIR/conf" \
		--cache=local --http-enabled=false --http-host=127.0.0.1 --https-port="$KC_PORT" \
		--https-certificate-file="$KC_DIR/tls/tls.crt" --https-certificate-key-file="$KC_DIR/tls/tls.key" \
		--https-protocols=TLSv1.3 --hostname="https://localhost:$KC_PORT" --hostname-strict=true \
		--import-realm --log-console-output=json
}

keycloak_wait() {
	local i limit=$((${HEIMDALL_KEYCLOAK_WAIT_SECONDS:-180} * 10))
	for ((i = 0; i < limit; i++)); do
		if port_listening "$KC_PORT" && curl -fsS --max-time 3 --cacert "$CA_DIR/ca.crt" --tlsv1.3 \
			"https://localhost:$KC_PORT/realms/$KC_REALM/.well-known/openid-configuration" >/dev/null 2>&1; then
			[ -z "${KC_PENDING_STAMP:-}" ] || echo "$KC_PENDING_STAMP" >"$KC_DIR/realm.imported"
			return 0
		fi
		keycloak_pid >/dev/null || {
			tail -n 30 "$LOG_DIR/keycloak.log" >&2 || true
			die "Keycloak exited, see $LOG_DIR/keycloak.log"
		}
		sleep 0.1
	done
	die "Keycloak did not answer the realm's discovery document over TLS within ${HEIMDALL_KEYCLOAK_WAIT_SECONDS:-180} s (HEIMDALL_KEYCLOAK_WAIT_SECONDS), see $LOG_DIR/keycloak.log"
}

keycloak_stop() {
	local pid
	if pid="$(keycloak_pid)"; then
		stop_pid keycloak "$pid" TERM 30
	fi
	rm -f "$RUN_DIR/keycloak.pid"
	# kc.sh forwards TERM to its JVM; a JVM left behind (kc.sh killed) is stopped too.
	for pid in $(pgrep -f -- "-Dkc.home.dir=$KC_DIR( |$)" 2>/dev/null); do
		pid_matches "$pid" "-Dkc.home.dir=$KC_DIR" && stop_pid "keycloak (jvm $pid)" "$pid" TERM 30
	done
	return 0
}

# ---------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------

prepare_state() {
	mkdir -p "$STACK_DIR" "$LOG_DIR" "$RUN_DIR"
	chmod 0755 "$STACK_DIR"
}

cmd_up() {
	local t0 kafka_fetch="" kc_fetch=""
	t0=$(now_ms)
	ensure_host_tools
	prepare_state
	keycloak_java >/dev/null # fail early when no Java 21+ is there
	# The slow downloads run side by side.
	if [ ! -f "$(kafka_home)/.heimdall-ready" ]; then
		ensure_kafka_jars &
		kafka_fetch=$!
	fi
	if ! keycloak_dist_ready; then
		ensure_keycloak_dist &
		kc_fetch=$!
	fi
	ensure_pg_root
	ensure_root_tools
	if [ -n "$kafka_fetch" ]; then
		wait "$kafka_fetch" || die "fetching the Kafka jars failed"
	fi
	if [ -n "$kc_fetch" ]; then
		wait "$kc_fetch" || die "fetching or building Keycloak failed"
	fi
	write_tool_wrappers
	write_pg_client_wrappers
	ensure_ca
	write_env
	write_dev_credentials
	pg_start
	kafka_start
	start_keycloak
	pg_wait
	pg_bootstrap
	kafka_wait
	kafka_principals
	keycloak_wait
	log "stack is up ($(($(now_ms) - t0)) ms); env: $ENV_FILE"
	cmd_status
}

cmd_down() {
	keycloak_stop
	kafka_stop
	pg_stop
}

cmd_status() {
	local pid all=0
	printf '%-9s %-6s %-28s %s\n' COMPONENT STATE ADDRESS PID
	if pid="$(pg_pid)"; then
		printf '%-9s %-6s %-28s %s\n' postgres up "127.0.0.1:$PG_PORT" "$pid"
	else
		printf '%-9s %-6s %-28s %s\n' postgres down "127.0.0.1:$PG_PORT" -
		all=1
	fi
	if pid="$(kafka_pid)"; then
		printf '%-9s %-6s %-28s %s\n' kafka up "127.0.0.1:$KAFKA_PORT,$KAFKA_CONTROLLER_PORT,$KAFKA_MTLS_PORT" "$pid"
	else
		printf '%-9s %-6s %-28s %s\n' kafka down "127.0.0.1:$KAFKA_PORT,$KAFKA_CONTROLLER_PORT,$KAFKA_MTLS_PORT" -
		all=1
	fi
	if pid="$(keycloak_pid)"; then
		printf '%-9s %-6s %-28s %s\n' keycloak up "127.0.0.1:$KC_PORT" "$pid"
	else
		printf '%-9s %-6s %-28s %s\n' keycloak down "127.0.0.1:$KC_PORT" -
		all=1
	fi
	return $all
}

cmd_logs() {
	local c="${1:-}" n="${LINES_TAIL:-100}"
	case "$c" in
	"") tail -n "$n" "$LOG_DIR"/postgres.log "$LOG_DIR"/kafka.log "$LOG_DIR"/keycloak.log 2>/dev/null || true ;;
	postgres | pg) tail -n "$n" "$LOG_DIR/postgres.log" ;;
	kafka) tail -n "$n" "$LOG_DIR/kafka.log" "$LOG_DIR/kafka.out" ;;
	keycloak | idp) tail -n "$n" "$LOG_DIR/keycloak.log" ;;
	*) die "logs: unknown component $c (postgres, kafka, keycloak)" ;;
	esac
}

cmd_psql() {
	local role=heimdall db=heimdall
	if [ "${1:-}" = "--admin" ]; then
		role=postgres
		db=postgres
		shift
	fi
	pg_pid >/dev/null || die "PostgreSQL is not running: deploy/stack.sh up"
	pg_psql "$role" "$db" "$@"
}

usage() {
	cat >&2 <<-EOF
		usage: deploy/stack.sh COMMAND
		  up                 start PostgreSQL, Kafka and Keycloak (idempotent), wait until ready
		  down               stop them (idempotent)
		  status             state, address and pid of each component
		  logs [COMPONENT]   last lines of the logs (postgres, kafka, keycloak)
		  env                print the path of the env file to source
		  psql [--admin] ... psql over TLS as heimdall (or the superuser) into its database
		  clean              down, then delete the state dir ($STACK_DIR); the cache stays
	EOF
}

main() {
	local cmd="${1:-}"
	[ $# -gt 0 ] && shift
	case "$cmd" in
	up) cmd_up ;;
	down) cmd_down ;;
	status) cmd_status ;;
	logs) cmd_logs "$@" ;;
	env) echo "$ENV_FILE" ;;
	psql) cmd_psql "$@" ;;
	certs) # only the development CA and leaf certificates (compose.yaml's certs service uses it)
		ensure_ca
		;;
	clean)
		cmd_down
		rm -rf "$STACK_DIR"
		log "removed $STACK_DIR"
		;;
	__pg_exec) # internal: the PostgreSQL postmaster, in its mount namespace, as the postgres user
		exec unshare --mount --propagation private -- /bin/sh -c '
			set -e
			root="$1"; src="$2"; mnt="$3"; userspec="$4"
			mount --bind "$src" "$root$mnt"
			mount -t tmpfs -o mode=1777,size=512m heimdall-shm "$root/dev/shm"
			exec chroot --userspec="$userspec" "$root" /usr/bin/env -i LANG=C.UTF-8 LC_ALL=C.UTF-8 \
				/usr/lib/postgresql/17/bin/postgres -D "$mnt/data"
		' pg "$1" "$2" "$PG_MNT" "$3"
		;;
	-h | --help | help) usage ;;
	*)
		usage
		exit 2
		;;
	esac
}

main "$@"
