#!/usr/bin/env bash
# The whole test suite: SQLite first, then PostgreSQL. Services that are missing are started when this
# machine can start them; what still cannot run is said plainly and skipped — except under CI=true,
# where PostgreSQL is required.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${VENV:-.venv}/bin
PG_URL=${TEST_PG_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}
CI=${CI:-false}
# The suite runs on every core (pytest-xdist, one test file per worker at a time, at most 8 workers: each has a
# Redis database of its own); TEST_WORKERS=0 runs it in one process. Tests marked `timing` assert how long
# something takes: they run afterwards, alone. A `-m EXPR` given to this script selects within both runs.
WORKERS=${TEST_WORKERS:-auto}

suite() {
  local args=() marks=""
  while [ $# -gt 0 ]; do
    case "$1" in
      -m) marks="$2"; shift 2 ;;
      -m*) marks="${1#-m}"; shift ;;
      *) args+=("$1"); shift ;;
    esac
  done
  local parallel_marks="not timing" timing_marks="timing"
  if [ -n "$marks" ]; then
    parallel_marks="not timing and ($marks)"
    timing_marks="timing and ($marks)"
  fi
  "$BIN/pytest" -n "$WORKERS" --maxprocesses 8 --dist loadfile -m "$parallel_marks" "${args[@]}"
  local parallel=$?
  if [ $parallel -ne 0 ] && [ $parallel -ne 1 ] && [ $parallel -ne 5 ]; then
    return $parallel  # interrupted, or pytest itself failed: no second run
  fi
  "$BIN/pytest" -m "$timing_marks" "${args[@]}"
  local timing=$?
  if [ $parallel -eq 5 ] && [ $timing -eq 5 ]; then
    return 5  # nothing at all was selected
  fi
  [ $parallel -eq 5 ] && parallel=0  # 5: this part selected nothing (a -k naming only timing tests, say)
  [ $timing -eq 5 ] && timing=0
  [ $parallel -eq 0 ] && [ $timing -eq 0 ]
}

bash scripts/system-deps.sh || echo "warning: could not install the browser for the browser test"

pg_up() { "$BIN/python" - "$PG_URL" <<'PY'
import sys
from sqlalchemy import create_engine, text
try:
    with create_engine(sys.argv[1]).connect() as c:
        c.execute(text("select 1"))
except Exception as exc:
    print(f"PostgreSQL check failed: {type(exc).__name__}: {exc}".splitlines()[0])
    sys.exit(1)
PY
}

if ! pg_up >/dev/null 2>&1 && command -v pg_ctlcluster >/dev/null 2>&1; then
  echo "PostgreSQL is not answering; trying to start it"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start 2>/dev/null || true
  sleep 2
fi

REDIS_URL_FOR_TESTS=${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}
redis_up() { "$BIN/python" -c "import redis,sys; redis.Redis.from_url(sys.argv[1], socket_connect_timeout=2).ping()" \
  "$REDIS_URL_FOR_TESTS" >/dev/null 2>&1; }
if ! redis_up && command -v redis-server >/dev/null 2>&1; then
  echo "Redis is not answering; trying to start it"
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no --dir /tmp >/dev/null 2>&1 || true
  sleep 1
fi
if redis_up; then
  export TEST_REDIS_URL="$REDIS_URL_FOR_TESTS"
elif [ "$CI" = "true" ]; then
  echo "Redis is required under CI but is not reachable at $REDIS_URL_FOR_TESTS" >&2
  exit 1
else
  echo "Redis is not reachable at $REDIS_URL_FOR_TESTS: tests that need it are SKIPPED."
  unset TEST_REDIS_URL
fi

echo "=== test suite on SQLite ==="
suite "$@"
sqlite_rc=$?

pg_rc=0
if pg_up; then
  echo "=== test suite on PostgreSQL ($PG_URL) ==="
  TEST_DATABASE_URL="$PG_URL" suite "$@"
  pg_rc=$?
elif [ "$CI" = "true" ]; then
  echo "PostgreSQL is required under CI but is not reachable at $PG_URL" >&2
  pg_rc=1
else
  echo "PostgreSQL is not reachable at $PG_URL: the PostgreSQL run is SKIPPED (set TEST_PG_URL to point at one)."
fi

if [ $sqlite_rc -ne 0 ] || [ $pg_rc -ne 0 ]; then
  echo "FAILED: sqlite=$sqlite_rc postgresql=$pg_rc"
  exit 1
fi
echo "all test runs passed"
