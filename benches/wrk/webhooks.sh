#!/usr/bin/env bash
# Peak intake with a load generator that costs little CPU (wrk, from Debian:
# apt-get install wrk), so the 2 cores go to hsflow rather than to a Rust
# HTTP client. Serves tests/fixtures/runtime on a fresh data dir, replays
# pre-signed webhooks with 64 connections for 10 s (each answered 202 is
# counted), then kill -9s the server, restarts it and counts what was stored.
#
#   benches/wrk/webhooks.sh [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-10}
CONNS=${2:-64}
SECRET=bench-secret
WORK=$(mktemp -d)
trap 'kill -9 $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

cargo build --release --quiet
# Enough signed events that none is sent twice (20k/s is more than 2 cores take).
python3 - "$WORK/requests.txt" "$((SECS * 20000))" "$SECRET" <<'PY'
import hashlib, hmac, sys, uuid
path, n, secret = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
run = uuid.uuid4().hex[:8]
with open(path, "w") as f:
    for i in range(n):
        body = '{"id":"%s-%d","type":"signup","email":"user%d@example.org","first_name":"User"}' % (run, i, i)
        sig = "sha256=" + hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()
        f.write(sig + "\t" + body + "\n")
PY

serve() {
  HSFLOW_TEST_FORM_SECRET=$SECRET HSFLOW_ADMIN_TOKEN=bench RUST_LOG=error \
    target/release/hsflow serve --rules tests/fixtures/runtime/rules \
    --templates tests/fixtures/runtime/templates --data "$WORK/data" \
    --listen 127.0.0.1:0 > "$WORK/addr" &
  PID=$!
  for _ in $(seq 100); do grep -q listening "$WORK/addr" && break; sleep 0.05; done
  BASE=$(sed 's/hsflow listening on //' "$WORK/addr")
}
stored() {
  curl -s -H 'Authorization: Bearer bench' "$BASE/contact-workflows/status" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["events"].get("form", 0))'
}
done_actions() {
  curl -s -H 'Authorization: Bearer bench' "$BASE/contact-workflows/status" |
    python3 -c 'import json,sys; a=json.load(sys.stdin)["actions"]; print(sum(v.get("succeeded", 0) for v in a.values()))'
}

serve
HSFLOW_WRK_REQUESTS="$WORK/requests.txt" HSFLOW_WRK_THREADS=2 \
  wrk -t2 -c"$CONNS" -d"${SECS}s" -s benches/wrk/post.lua "$BASE/" | tee "$WORK/wrk.txt"
SENT=$(awk '/requests in/ {print $1}' "$WORK/wrk.txt")
ERRORS=$(awk -F'[:;]' '/answers other than 2xx/ {print $2}' "$WORK/wrk.txt" | tr -d ' ')
ACCEPTED=$((SENT - ERRORS))
echo "accepted: $ACCEPTED in ${SECS} s = $((ACCEPTED / SECS)) webhooks/s; meanwhile $(done_actions) of their actions were carried out"
{ kill -9 "$PID"; wait "$PID"; } 2>/dev/null || true
serve
STORED=$(stored)
# wrk does not count the answers still on their way when it stops, so a few
# more events may be stored than it saw acknowledged; never fewer.
if [ "$STORED" -ge "$ACCEPTED" ]; then verdict="none lost"; else verdict="LOST SOME"; fi
echo "after kill -9: $STORED events stored, $ACCEPTED acknowledged ($verdict)"
{ kill "$PID"; wait "$PID"; } 2>/dev/null || true
