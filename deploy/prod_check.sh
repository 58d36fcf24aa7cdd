#!/usr/bin/env bash
# make prod-check: the production settings under gunicorn against local PostgreSQL and Redis.
#
# Generates a throwaway SECRET_KEY and signing key, creates the database if it is missing,
# migrates, collects static files, starts gunicorn with gunicorn.conf.py on a free loopback
# port and probes it the way the TLS proxy would reach it. Exits non-zero on any failure.
# gunicorn is stopped on every exit path; nothing is left running.
#
# Override with PRODCHECK_DATABASE_URL, PRODCHECK_REDIS_URL, PRODCHECK_HOST.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="$ROOT/.venv/bin/python"
GUNICORN="$ROOT/.venv/bin/gunicorn"
DATABASE_URL="${PRODCHECK_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/govboard_prodcheck}"
REDIS_URL="${PRODCHECK_REDIS_URL:-redis://127.0.0.1:6379/4}"
HOST="${PRODCHECK_HOST:-govboard.prodcheck.test}"
VAR_DIR="$ROOT/var/prodcheck"
mkdir -p "$VAR_DIR"
# An empty HOME proves gunicorn puts nothing there (its control socket default is ~/.gunicorn/).
FAKE_HOME="$(mktemp -d "${TMPDIR:-/tmp}/govboard-prodcheck-home.XXXXXX")"
LOG="$VAR_DIR/gunicorn.log"
: >"$LOG"
GUNICORN_PID=""

say() { printf 'prod-check: %s\n' "$*"; }
fail() {
	printf 'prod-check: FAILED: %s\n' "$*" >&2
	exit 1
}

cleanup() {
	local status=$?
	if [[ -n "$GUNICORN_PID" ]] && kill -0 "$GUNICORN_PID" 2>/dev/null; then
		local workers worker
		workers="$(pgrep -P "$GUNICORN_PID" || true)"
		kill -TERM "$GUNICORN_PID" 2>/dev/null || true
		for _ in $(seq 1 40); do
			kill -0 "$GUNICORN_PID" 2>/dev/null || break
			sleep 0.25
		done
		if kill -0 "$GUNICORN_PID" 2>/dev/null; then
			say "gunicorn did not stop on TERM; killing it"
			kill -KILL "$GUNICORN_PID" 2>/dev/null || true
		fi
		wait "$GUNICORN_PID" 2>/dev/null || true
		# Workers leave with their arbiter; make sure no orphan outlives this script.
		for worker in $workers; do
			kill -KILL "$worker" 2>/dev/null && say "killed leftover worker $worker"
		done
		say "gunicorn (pid $GUNICORN_PID) and its workers stopped"
	fi
	rm -rf "$FAKE_HOME"
	if [[ $status -ne 0 && -s "$LOG" ]]; then
		printf -- '--- last lines of %s ---\n' "$LOG" >&2
		tail -n 40 "$LOG" >&2
	fi
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[[ -x "$PY" && -x "$GUNICORN" ]] || fail "no .venv: run make install first"

SECRET_KEY="$("$PY" -c 'import secrets; print(secrets.token_urlsafe(64))')"
SIGNING_KEY="$("$PY" -c 'import base64, secrets; print(base64.b64encode(secrets.token_bytes(32)).decode())')"

# A clean environment: only what production needs, nothing inherited from the caller's shell.
PROD_ENV=(
	env -i
	PATH="$ROOT/.venv/bin:/usr/local/bin:/usr/bin:/bin"
	HOME="$FAKE_HOME"
	LANG=C.UTF-8
	DJANGO_SETTINGS_MODULE=govboard.settings.production
	SECRET_KEY="$SECRET_KEY"
	GOVBOARD_SIGNING_KEY="$SIGNING_KEY"
	ALLOWED_HOSTS="$HOST"
	CSRF_TRUSTED_ORIGINS="https://$HOST"
	GOVBOARD_PUBLIC_URL="https://$HOST"
	GOVBOARD_VAR_DIR="$VAR_DIR"
	DATABASE_URL="$DATABASE_URL"
	REDIS_URL="$REDIS_URL"
	WEB_CONCURRENCY=2
)

say "database $DATABASE_URL, redis $REDIS_URL"
"$PY" - "$DATABASE_URL" "$REDIS_URL" <<'PY' || fail "PostgreSQL or Redis is not reachable"
import sys

import dj_database_url
import psycopg
import redis
from psycopg import sql

database_url, redis_url = sys.argv[1:]
db = dj_database_url.parse(database_url)
params = {"host": db["HOST"], "port": db["PORT"] or 5432, "user": db["USER"]}
if db["PASSWORD"]:
    params["password"] = db["PASSWORD"]
try:
    with psycopg.connect(dbname="postgres", autocommit=True, connect_timeout=5, **params) as conn:
        query = "SELECT 1 FROM pg_database WHERE datname = %s"
        if not conn.execute(query, [db["NAME"]]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db["NAME"])))
            print(f"prod-check: created database {db['NAME']}")
except psycopg.Error as exc:
    sys.exit(f"prod-check: PostgreSQL: {exc}")
try:
    redis.Redis.from_url(redis_url, socket_connect_timeout=2).ping()
except redis.RedisError as exc:
    sys.exit(f"prod-check: Redis: {exc}")
PY

say "migrate"
"${PROD_ENV[@]}" "$PY" manage.py migrate --noinput -v0
say "collectstatic"
"${PROD_ENV[@]}" "$PY" manage.py collectstatic --noinput -v0

PORT="$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
say "gunicorn -c gunicorn.conf.py on 127.0.0.1:$PORT"
# Started directly (no subshell or function): env execs gunicorn, so $! is the arbiter itself.
"${PROD_ENV[@]}" "$GUNICORN" -c gunicorn.conf.py --bind "127.0.0.1:$PORT" >"$LOG" 2>&1 &
GUNICORN_PID=$!

for _ in $(seq 1 120); do
	kill -0 "$GUNICORN_PID" 2>/dev/null || fail "gunicorn exited during start-up"
	if "$PY" -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$PORT" 2>/dev/null; then
		break
	fi
	sleep 0.25
done

"$PY" - "$PORT" "$HOST" "$VAR_DIR" "$FAKE_HOME" <<'PY' || fail "gunicorn is not healthy"
import http.client
import json
import stat
import sys
import time
from pathlib import Path

port, host, var_dir, home = int(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])
problems = []


def get(path, **headers):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers={"Host": host, **headers})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


# As the TLS proxy forwards it: the right Host and X-Forwarded-Proto: https.
deadline = time.monotonic() + 30
while True:
    try:
        status, headers, body = get("/health/", **{"X-Forwarded-Proto": "https"})
        break
    except OSError:
        if time.monotonic() > deadline:
            raise
        time.sleep(0.5)
print(f"prod-check: GET /health/ -> {status} {body.decode(errors='replace')}")
try:
    health = json.loads(body)
except ValueError:
    health = {}
if status != 200 or health != {"status": "ok", "database": "ok", "broker": "ok"}:
    problems.append(f"/health/ answered {status} {body[:200]!r}, not 200 with every part ok")

# Production settings are really in force: plain http is sent to https.
status, headers, _ = get("/health/")
print(f"prod-check: GET /health/ without the proxy header -> {status} {headers.get('Location')}")
if status != 301 or headers.get("Location") != f"https://{host}/health/":
    problems.append(f"plain http was not redirected to https (got {status})")

# A host that is not in ALLOWED_HOSTS is refused.
status, _, _ = get("/health/", Host="evil.example", **{"X-Forwarded-Proto": "https"})
print(f"prod-check: GET /health/ with an unknown Host -> {status}")
if status != 400:
    problems.append(f"an unknown Host header got {status}, not 400")

# collectstatic + whitenoise serve the admin's assets.
status, headers, body = get("/static/admin/css/base.css", **{"X-Forwarded-Proto": "https"})
print(f"prod-check: GET /static/admin/css/base.css -> {status}, {len(body)} bytes")
if status != 200 or not body:
    problems.append(f"static files are not served (got {status})")

# gunicorn's control socket is under var/, and nothing was written to HOME.
control_socket = var_dir / "run" / "gunicorn.ctl"
if control_socket.exists() and stat.S_ISSOCK(control_socket.stat().st_mode):
    print(f"prod-check: control socket at {control_socket}")
else:
    problems.append(f"no control socket at {control_socket}")
if (home / ".gunicorn").exists():
    problems.append(f"gunicorn wrote to HOME ({home / '.gunicorn'})")

for problem in problems:
    print(f"prod-check: {problem}", file=sys.stderr)
sys.exit(1 if problems else 0)
PY

say "OK: production settings under gunicorn are healthy"
