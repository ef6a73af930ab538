#!/usr/bin/env bash
# Run the portal browser tests (portal.test.mjs) against a private, throw-away stack:
# a PostgreSQL cluster (scripts/pgcluster) and a webrackd on a free port with a
# self-signed certificate, a node CA (agent listener on another free port), an ISO library
# with two stand-in images and a provider admin, all under var/browser-test/run.XXXXXX.
# Everything is torn down on exit, also on failure or Ctrl-C; the exit status is
# node's. Needs: a built controller/webrackd, node >= 18, npm, /usr/bin/chromium,
# openssl, PostgreSQL server binaries.
#
#   tests/browser/run.sh [extra node --test arguments]
#
# Environment: WEBRACKD (default controller/webrackd), WEBRACK_CHROMIUM
# (default /usr/bin/chromium), KEEP=1 keeps the run directory (logs) on success too.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
WEBRACKD=${WEBRACKD:-$TOP/controller/webrackd}
PGCLUSTER=$TOP/scripts/pgcluster
CHROMIUM=${WEBRACK_CHROMIUM:-/usr/bin/chromium}

say() { echo "run.sh: $*" >&2; }
die() { say "$*"; exit 1; }

[[ -x $WEBRACKD ]] || die "$WEBRACKD not found; build first (./configure && make)"
[[ -x $PGCLUSTER ]] || die "$PGCLUSTER not found"
[[ -x $CHROMIUM ]] || die "$CHROMIUM not found; apt-get install chromium"
command -v node >/dev/null || die "node not found; apt-get install nodejs"
command -v openssl >/dev/null || die "openssl not found; apt-get install openssl"
node -e 'process.exit(+process.versions.node.split(".")[0] >= 18 ? 0 : 1)' ||
	die "node >= 18 needed (node --test), found $(node --version)"

"$HERE/ensure-playwright" || die "cannot install playwright-core"

mkdir -p "$TOP/var/browser-test"
WORK=$(mktemp -d "$TOP/var/browser-test/run.XXXXXX")
chmod 0755 "$WORK"        # the postgres OS user must reach DIR/pg when we run as root
PG=$WORK/pg
WEBRACKD_PID=
NODE_PID=
PG_STARTED=

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [[ -n $NODE_PID ]]; then
		kill "$NODE_PID" 2>/dev/null || true    # node's test runner ends chromium with it
		wait "$NODE_PID" 2>/dev/null || true
	fi
	if [[ -n $WEBRACKD_PID ]] && kill -0 "$WEBRACKD_PID" 2>/dev/null; then
		kill "$WEBRACKD_PID" 2>/dev/null || true
		for _ in $(seq 50); do
			kill -0 "$WEBRACKD_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$WEBRACKD_PID" 2>/dev/null || true
		wait "$WEBRACKD_PID" 2>/dev/null || true
	fi
	if [[ -n $PG_STARTED ]]; then
		"$PGCLUSTER" stop "$PG" >/dev/null 2>&1 || "$PGCLUSTER" kill "$PG" >/dev/null 2>&1 || true
	fi
	if [[ $rc -ne 0 || -n ${KEEP:-} ]]; then
		say "kept $WORK (webrackd.log, pg/postgres.log)"
		if [[ $rc -ne 0 && -s $WORK/webrackd.log ]]; then
			say "last lines of webrackd.log:"
			tail -n 20 "$WORK/webrackd.log" >&2
		fi
	else
		rm -rf "$WORK"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- PostgreSQL -------------------------------------------------------------
PG_STARTED=1
CONNINFO=$("$PGCLUSTER" start "$PG" | tail -n 1)
[[ -n $CONNINFO ]] || die "pgcluster printed no conninfo"

# --- TLS, config, schema, admin --------------------------------------------
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
	-addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
	-keyout "$WORK/key.pem" -out "$WORK/cert.pem" >/dev/null 2>&1 ||
	die "openssl could not make a certificate"
chmod 0600 "$WORK/key.pem"

freeport() {
	node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}
PORT=$(freeport)
AGENT_PORT=$(freeport)
[[ $AGENT_PORT != "$PORT" ]] || AGENT_PORT=$(freeport)
# the ISO library: two small stand-in images (never booted: there are no nodes)
mkdir -p "$WORK/isos"
head -c 65536 /dev/zero >"$WORK/isos/debian-12-netinst.iso"
head -c 32768 /dev/zero >"$WORK/isos/rescue.iso"
cat >"$WORK/webrackd.conf" <<EOF
# written by tests/browser/run.sh
listen = 127.0.0.1:$PORT
tls_cert = "$WORK/cert.pem"
tls_key = "$WORK/key.pem"
db = "$CONNINFO"
www_dir = "$TOP/www"
sql_dir = "$TOP/sql"
argon2_memory_kib = 1024
ca_cert = "$WORK/ca.crt"
ca_key = "$WORK/ca.key"
agent_listen = 127.0.0.1:$AGENT_PORT
iso_dir = "$WORK/isos"
EOF

ADMIN_USER=admin
ADMIN_PASSWORD=$(openssl rand -hex 12)
"$WEBRACKD" -n -c "$WORK/webrackd.conf" >/dev/null
"$WEBRACKD" --init-ca -c "$WORK/webrackd.conf" >>"$WORK/setup.log" 2>&1 ||
	{ cat "$WORK/setup.log" >&2; die "webrackd --init-ca failed"; }
"$WEBRACKD" --migrate -c "$WORK/webrackd.conf" >>"$WORK/setup.log" 2>&1 ||
	{ cat "$WORK/setup.log" >&2; die "webrackd --migrate failed"; }
WEBRACK_ADMIN_PASSWORD=$ADMIN_PASSWORD "$WEBRACKD" --create-admin "$ADMIN_USER" \
	-c "$WORK/webrackd.conf" >>"$WORK/setup.log" 2>&1 ||
	{ cat "$WORK/setup.log" >&2; die "webrackd --create-admin failed"; }

# --- webrackd ---------------------------------------------------------------
"$WEBRACKD" -c "$WORK/webrackd.conf" >"$WORK/webrackd.log" 2>&1 &
WEBRACKD_PID=$!
URL=https://127.0.0.1:$PORT
healthy() {
	node -e '
		const r = require("https").get(process.argv[1] + "/healthz", { rejectUnauthorized: false },
			(res) => process.exit(res.statusCode === 200 ? 0 : 1));
		r.on("error", () => process.exit(1));
		r.setTimeout(2000, () => { r.destroy(); process.exit(1); });' "$URL"
}
for i in $(seq 100); do
	kill -0 "$WEBRACKD_PID" 2>/dev/null || die "webrackd exited at start"
	healthy && break
	[[ $i -eq 100 ]] && die "webrackd not healthy after 20 s"
	sleep 0.2
done
say "webrackd ready at $URL (pid $WEBRACKD_PID)"

# --- the tests --------------------------------------------------------------
# in the background + wait, so that a TERM to this script runs the trap at once
set +e
WEBRACK_URL=$URL WEBRACK_ADMIN_USER=$ADMIN_USER WEBRACK_ADMIN_PASSWORD=$ADMIN_PASSWORD \
	WEBRACK_CHROMIUM=$CHROMIUM node --test "$@" "$HERE/" &
NODE_PID=$!
wait "$NODE_PID"
status=$?
NODE_PID=
set -e
exit "$status"
