#!/bin/sh
# backup.sh: an online backup of hsflow's SQLite store, safe while the
# server runs (SQLite's backup API reads one consistent snapshot), then an
# integrity check of the copy. See docs/operations.md, "Backup and restore".
set -eu

usage() {
    cat <<'USAGE'
usage: backup.sh [DATA_DIR] OUT_FILE
       backup.sh -h

Copy DATA_DIR/hsflow.db (DATA_DIR defaults to $HSFLOW_DATA, else ./data)
to OUT_FILE with SQLite's online backup, while hsflow serves, and check the
copy with PRAGMA integrity_check. OUT_FILE must not exist yet.

Run it as the user hsflow runs as (a reader of a WAL database writes its
-shm file), e.g. installed as /usr/local/bin/hsflow-backup, from cron or
a systemd timer:
  runuser -u hsflow -- hsflow-backup /srv/hsflow/data \
      /var/backups/hsflow/hsflow-$(date -u +%Y%m%dT%H%M%SZ).db

Exit status: 0 the copy is sound; 1 the backup or the check failed;
2 usage. Only the store is copied: with the local sinks, data/outbox/,
data/*.jsonl and data/verification/ are plain files to copy as well.
With HSFLOW_DATABASE_URL (PostgreSQL), use pg_dump instead.
Restore: stop hsflow, copy the backup over DATA_DIR/hsflow.db, remove
DATA_DIR/hsflow.db-wal and DATA_DIR/hsflow.db-shm, start hsflow.
USAGE
}

case "${1:-}" in
    -h|--help) usage; exit 0 ;;
esac
case $# in
    1) DATA=${HSFLOW_DATA:-data}; OUT=$1 ;;
    2) DATA=$1; OUT=$2 ;;
    *) usage >&2; exit 2 ;;
esac

DB="$DATA/hsflow.db"
if ! command -v sqlite3 >/dev/null 2>&1; then
    echo "backup.sh: the sqlite3 command is missing (apt-get install sqlite3)" >&2
    exit 1
fi
if [ ! -f "$DB" ]; then
    echo "backup.sh: there is no $DB (is $DATA hsflow's data directory?)" >&2
    exit 2
fi
case $OUT in
    *"'"*) echo "backup.sh: the output path may not contain a single quote" >&2; exit 2 ;;
esac
if [ -e "$OUT" ]; then
    echo "backup.sh: $OUT exists; give a new file name" >&2
    exit 2
fi

# Wait up to 10 s if the database is momentarily locked.
if ! sqlite3 -cmd '.timeout 10000' "$DB" ".backup '$OUT'"; then
    echo "backup.sh: the backup of $DB failed" >&2
    rm -f "$OUT"
    exit 1
fi
check=$(sqlite3 "$OUT" 'PRAGMA integrity_check')
if [ "$check" != "ok" ]; then
    echo "backup.sh: $OUT failed the integrity check:" >&2
    printf '%s\n' "$check" >&2
    exit 1
fi
echo "backup.sh: $DB -> $OUT ($(wc -c <"$OUT" | tr -d ' ') bytes, integrity ok)"
