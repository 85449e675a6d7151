#!/usr/bin/env bash
# Shared set-up for scripts/run and scripts/test. Idempotent: a second run skips what
# is done. Works as root on a fresh Debian 12 machine.
#   - Debian packages: PostGIS, GDAL, Chromium (+ an emoji font for the category icons), Redis, gettext
#   - .venv with requirements.txt
#   - a database: $DATABASE_URL if set; else the local PostgreSQL if one answers on
#     127.0.0.1:5432; else a private cluster under var/pgdata on port 5433
#   - Redis on 127.0.0.1:6379 (started if not answering)
#   - a secret key generated once in var/secret_key (unless SECRET_KEY is set)
#   - migrations
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

# --- Debian packages ----------------------------------------------------------
need_pkgs=()
PG_MAJOR=$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1 || true)
[ -n "$PG_MAJOR" ] || PG_MAJOR=15
for p in "postgresql-$PG_MAJOR" "postgresql-$PG_MAJOR-postgis-3" gdal-bin chromium fonts-noto-color-emoji redis-server gettext python3-venv; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need_pkgs+=("$p")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
  log "installing Debian packages: ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${need_pkgs[@]}"
fi

# --- Python environment -------------------------------------------------------
PY=${PYTHON:-$(command -v python3.11 || command -v python3)}
if [ ! -x .venv/bin/python ]; then
  log "creating .venv with $PY"
  "$PY" -m venv .venv
fi
req_sum=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ "$(cat .venv/.requirements.sha256 2>/dev/null || true)" != "$req_sum" ]; then
  log "installing Python packages"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -r requirements.txt
  echo "$req_sum" > .venv/.requirements.sha256
fi

# --- PostgreSQL + PostGIS -----------------------------------------------------
mkdir -p var
if [ -z "${DATABASE_URL:-}" ]; then
  # GEO_PORTAL_PRIVATE_PG=1 forces the private cluster even when a server answers.
  if [ -z "${GEO_PORTAL_PRIVATE_PG:-}" ] && pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    export DATABASE_URL="postgres://postgres@127.0.0.1:5432/geo_portal"
  else
    PGBIN=/usr/lib/postgresql/$PG_MAJOR/bin
    PGDATA="$ROOT/var/pgdata"
    if [ ! -s "$PGDATA/PG_VERSION" ]; then
      log "initialising a private PostgreSQL cluster in $PGDATA"
      mkdir -p "$PGDATA"; chown postgres:postgres "$PGDATA"
      runuser -u postgres -- "$PGBIN/initdb" -D "$PGDATA" -A trust -U postgres -E UTF8 >/dev/null
    fi
    if ! pg_isready -q -h 127.0.0.1 -p 5433; then
      log "starting the private cluster on 127.0.0.1:5433"
      runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w \
        -o "-p 5433 -k /tmp -c listen_addresses=127.0.0.1" start >/dev/null
    fi
    export DATABASE_URL="postgres://postgres@127.0.0.1:5433/geo_portal"
  fi
fi
log "database: $DATABASE_URL"
# Create the database and PostGIS (test databases get the extension from Django).
.venv/bin/python - <<'PY'
import os, psycopg, dj_database_url
cfg = dj_database_url.parse(os.environ["DATABASE_URL"])
conninfo = dict(host=cfg["HOST"] or "127.0.0.1", port=cfg["PORT"] or 5432, user=cfg["USER"] or "postgres", password=cfg["PASSWORD"] or None)
with psycopg.connect(dbname="postgres", autocommit=True, **conninfo) as c:
    if not c.execute("select 1 from pg_database where datname=%s", (cfg["NAME"],)).fetchone():
        c.execute(f'create database "{cfg["NAME"]}"')
with psycopg.connect(dbname=cfg["NAME"], autocommit=True, **conninfo) as c:
    c.execute("create extension if not exists postgis")
PY

# --- Redis ----------------------------------------------------------------------
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  log "starting Redis on 127.0.0.1:6379"
  mkdir -p var/redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir "$ROOT/var/redis" --logfile "$ROOT/var/redis/redis.log"
  for _ in $(seq 50); do redis-cli ping >/dev/null 2>&1 && break; sleep 0.1; done
fi

# --- Secret key -------------------------------------------------------------------
# DEBUG is off by default and the portal refuses to start without SECRET_KEY: generate
# one once (kept across runs: sessions and tokens survive a restart), readable by us only.
if [ -z "${SECRET_KEY:-}" ]; then
  if [ ! -s var/secret_key ]; then
    log "generating var/secret_key"
    (umask 077; .venv/bin/python -c "import secrets; print(secrets.token_urlsafe(50))" > var/secret_key)
  fi
  chmod 600 var/secret_key
  SECRET_KEY=$(cat var/secret_key)
  export SECRET_KEY
fi

# --- Django -------------------------------------------------------------------
.venv/bin/python manage.py migrate --noinput -v0
# the face detector's model for blurring uploads (reports/blur.py), checked by sha256
.venv/bin/python manage.py fetch_blur_model -v0 >/dev/null
.venv/bin/python manage.py collectstatic --noinput -v0
