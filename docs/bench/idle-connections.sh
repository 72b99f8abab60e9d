#!/usr/bin/env bash
# Idle-connection memory of a passthrough gateway: starts the built meshgate jar with one
# passthrough route to a local backend that accepts and holds connections, measures the gateway's
# resident memory (VmRSS) at rest, opens N connections that each send a real TLS ClientHello for the
# route's SNI (so every one is routed and relayed: two sockets in the gateway) and stay
# idle, then measures VmRSS again and prints the cost per connection.
#
#   docs/bench/idle-connections.sh [N]            # N defaults to 10000
#   MESHGATE_JAR=... MESHGATE_JVM_OPTS="..." docs/bench/idle-connections.sh 10000
#
# Needs java 17+ and python3; binds 127.0.0.1 (gateway) and 127.0.0.2 (backend) only.
set -euo pipefail
N=${1:-10000}
HERE=$(cd "$(dirname "$0")" && pwd)
JAR=${MESHGATE_JAR:-$HERE/../../gateway/target/meshgate.jar}
JVM_OPTS=${MESHGATE_JVM_OPTS:-}
SETTLE=${SETTLE:-5}
HOST=idle.demo.svc.cluster.local
# The gateway holds 2 descriptors per connection (downstream, upstream); client and backend 1 each.
WANT=$((2 * N + 1024))
HARD=$(ulimit -Hn)
if [ "$HARD" != unlimited ] && [ "$HARD" -lt "$WANT" ]; then
  echo "open-files hard limit $HARD is below the $WANT the gateway needs for N=$N; use N <= $(( (HARD - 1024) / 2 ))" >&2
  exit 2
fi
ulimit -n "$WANT"

WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
BACKEND_PORT=$(free_port); GW_PORT=$(free_port); ADMIN_PORT=$(free_port)

# Backend: accepts, reads and discards, never closes.
python3 - "$BACKEND_PORT" <<'PY' &
import selectors, socket, sys
sel = selectors.DefaultSelector()
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.2", int(sys.argv[1]))); srv.listen(4096); srv.setblocking(False)
sel.register(srv, selectors.EVENT_READ)
while True:
    for key, _ in sel.select():
        if key.fileobj is srv:
            try:
                c, _ = srv.accept(); c.setblocking(False); sel.register(c, selectors.EVENT_READ)
            except BlockingIOError:
                pass
        else:
            try:
                if not key.fileobj.recv(65536):
                    sel.unregister(key.fileobj); key.fileobj.close()
            except (BlockingIOError, ConnectionError):
                pass
PY
PIDS+=($!)

cat > "$WORK/meshgate.yaml" <<YAML
listeners:
  - name: eastwest
    address: 127.0.0.1:$GW_PORT
    mode: passthrough
    maxConnections: $((N + 1024))
admin:
  address: 127.0.0.1:$ADMIN_PORT
timeouts:
  idle: 1h
discovery:
  static:
    - host: $HOST
      port: 8080
      endpoints: ["127.0.0.2:$BACKEND_PORT"]
YAML
# shellcheck disable=SC2086
java $JVM_OPTS -jar "$JAR" run --config "$WORK/meshgate.yaml" >"$WORK/gateway.log" 2>&1 &
GW=$!
PIDS+=($GW)
for _ in $(seq 1 300); do
  curl -fs "http://127.0.0.1:$ADMIN_PORT/readyz" >/dev/null 2>&1 && break
  kill -0 "$GW" 2>/dev/null || { cat "$WORK/gateway.log"; exit 1; }
  sleep 0.2
done
python3 "$HERE/client-hello.py" "outbound_.8080_._.$HOST" > "$WORK/hello"
rss() { awk '/^VmRSS/ {print $2 * 1024}' "/proc/$GW/status"; }
routed() { curl -fs "http://127.0.0.1:$ADMIN_PORT/metrics" | awk '/^meshgate_downstream_connections_total\{.*outcome="routed"/ {s += $2} END {print s + 0}'; }

# Base: the gateway after start-up and one routed connection (warm paths), at rest.
python3 -c 'import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1]))); s.sendall(open(sys.argv[2], "rb").read()); time.sleep(0.5); s.close()' \
  "$GW_PORT" "$WORK/hello"
sleep "$SETTLE"
BASE=$(rss)

# N idle connections, held open by one client process until the measurement is done.
python3 - "$N" "$GW_PORT" "$WORK/hello" "$WORK/ready" "$WORK/done" <<'PY' &
import os, socket, sys, time
n, port, ready, done = int(sys.argv[1]), int(sys.argv[2]), sys.argv[4], sys.argv[5]
hello = open(sys.argv[3], "rb").read()
held = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(hello)
    held.append(s)
open(ready, "w").close()
while not os.path.exists(done):
    time.sleep(0.2)
PY
PIDS+=($!)
for _ in $(seq 1 600); do [ -e "$WORK/ready" ] && break; sleep 0.5; done
for _ in $(seq 1 600); do [ "$(routed)" -ge $((N + 1)) ] && break; sleep 0.5; done
sleep "$SETTLE"
LOADED=$(rss)
ROUTED=$(routed)
touch "$WORK/done"

awk -v n="$N" -v base="$BASE" -v loaded="$LOADED" -v routed="$ROUTED" -v opts="${JVM_OPTS:-(none)}" 'BEGIN {
  printf "jvm options:          %s\n", opts
  printf "routed connections:   %d (of %d opened, plus 1 before the base)\n", routed, n
  printf "RSS at base:          %.1f MiB\n", base / 1048576
  printf "RSS with %d idle:  %.1f MiB\n", n, loaded / 1048576
  printf "per connection:       %.0f bytes (%.1f KiB)\n", (loaded - base) / n, (loaded - base) / n / 1024
}'
