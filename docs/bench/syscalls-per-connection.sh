#!/usr/bin/env bash
# System calls per short connection (close1k-like: ClientHello + 1 KiB request, 1 KiB answer, the
# backend closes first, then the client) through a passthrough gateway, counted with strace -c over
# K connections after a warm-up, per process and for the accepting thread alone. Gateways: meshgate (the built jar) or nginx (stream + ssl_preread,
# one worker).
#
#   docs/bench/syscalls-per-connection.sh meshgate|nginx [K]     # K defaults to 2000
#
# strace slows every syscall, so only counts are meaningful here, not times.
set -euo pipefail
GATEWAY=${1:?meshgate or nginx}
K=${2:-2000}
WARM=${WARM:-500}
HERE=$(cd "$(dirname "$0")" && pwd)
JAR=${MESHGATE_JAR:-$HERE/../../gateway/target/meshgate.jar}
HOST=close.demo.svc.cluster.local
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
BACKEND_PORT=$(free_port); GW_PORT=$(free_port); ADMIN_PORT=$(free_port)

python3 "$HERE/client-hello.py" "outbound_.8080_._.$HOST" > "$WORK/hello"

# Backend: reads the hello and 1 KiB, answers 1 KiB, closes.
python3 - "$BACKEND_PORT" "$(stat -c %s "$WORK/hello")" <<'PY' &
import socket, sys, threading
want = int(sys.argv[2]) + 1024
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.2", int(sys.argv[1]))); srv.listen(4096)
def serve(c):
    got = 0
    while got < want:
        b = c.recv(65536)
        if not b:
            break
        got += len(b)
    c.sendall(b"a" * 1024); c.close()
while True:
    c, _ = srv.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
PIDS+=($!)

case "$GATEWAY" in
  meshgate)
    cat > "$WORK/meshgate.yaml" <<YAML
listeners:
  - name: eastwest
    address: 127.0.0.1:$GW_PORT
    mode: passthrough
admin:
  address: 127.0.0.1:$ADMIN_PORT
runtime: {workers: 1}
discovery:
  static:
    - host: $HOST
      port: 8080
      endpoints: ["127.0.0.2:$BACKEND_PORT"]
YAML
    # shellcheck disable=SC2086
    java ${MESHGATE_JVM_OPTS:-} -jar "$JAR" run --config "$WORK/meshgate.yaml" >"$WORK/gw.log" 2>&1 &
    GW=$!; PIDS+=($GW)
    ;;
  nginx)
    cat > "$WORK/nginx.conf" <<NGX
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
user root;
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/error.log warn;
events { worker_connections 8192; }
stream {
    map \$ssl_preread_server_name \$eastwest_upstream {
        outbound_.8080_._.$HOST 127.0.0.2:$BACKEND_PORT;
        default 127.0.0.1:1;
    }
    server {
        listen 127.0.0.1:$GW_PORT backlog=4096;
        ssl_preread on;
        preread_timeout 5s;
        proxy_pass \$eastwest_upstream;
        proxy_connect_timeout 5s;
        proxy_timeout 120s;
    }
}
NGX
    nginx -p "$WORK" -c "$WORK/nginx.conf" -e "$WORK/error.log" -g 'daemon off;' &
    GW=$!; PIDS+=($GW)
    ;;
  *) echo "meshgate or nginx" >&2; exit 2;;
esac

run_client() {
python3 - "$1" "$GW_PORT" "$WORK/hello" <<'PY'
import socket, sys
n, port = int(sys.argv[1]), int(sys.argv[2])
hello = open(sys.argv[3], "rb").read()
bad = 0
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(hello + b"r" * 1024)
    got = 0
    while True:
        b = s.recv(65536)
        if not b:
            break
        got += len(b)
    bad += got != 1024
    s.close()
if bad:
    print(f"{bad} of {n} connections did not get the whole answer", file=sys.stderr); sys.exit(1)
PY
}
for _ in $(seq 1 300); do
  python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$GW_PORT)).close()" 2>/dev/null && break
  sleep 0.2
done
run_client "$WARM"
if [ "$GATEWAY" = nginx ]; then TARGET=$(pgrep -P "$GW" | head -1); else TARGET=$GW; fi
ATTACH=(-p "$TARGET") # strace attaches every thread of the process
if [ -n "${DETAIL:-}" ]; then # every call with its arguments, for a handful of connections
  strace -f -o "$DETAIL" "${ATTACH[@]}" &
else
  strace -f -o "$WORK/strace" "${ATTACH[@]}" &
fi
ST=$!
sleep 2
run_client "$K"
sleep 1
kill -INT "$ST"; wait "$ST" 2>/dev/null || true
[ -n "${DETAIL:-}" ] && exit 0
# Two columns: every thread of the process (the JVM's own threads too: JIT, GC, container polling,
# which depend on elapsed time rather than connections), and the thread that accepted the
# connections alone (meshgate's event loop with runtime.workers 1; nginx's single worker).
echo "$GATEWAY: system calls per connection over $K connections (strace -f; errors in brackets)"
printf "  %-16s %9s %14s\n" syscall process "accepting thread"
awk -v k="$K" '
  / resumed>/ {                             # the second half of a call strace split in two
    if ($0 ~ /= -1 E[A-Z]+/ && match($0, /<\.\.\. [a-z_0-9]+ resumed>/)) {
      n = substr($0, RSTART + 5, RLENGTH - 14); err[n]++; errby[$1, n]++
    }
    next
  }
  match($0, /^[0-9]+ +[a-z_0-9]+\(/) {
    tid = $1; rest = substr($0, length($1) + 2); sub(/^ +/, "", rest)
    name = substr(rest, 1, index(rest, "(") - 1)
    all[name]++; total++; by[tid, name]++; per[tid]++
    if (name == "accept4") acceptors[tid]++
    if ($0 ~ /= -1 E[A-Z]+/) { err[name]++; errby[tid, name]++ }
  }
  END {
    best = ""; for (t in acceptors) if (best == "" || acceptors[t] > acceptors[best]) best = t
    printf "  %-16s %9.2f %14.2f\n", "total", total / k, per[best] / k
    for (n in all) {
      e = err[n] ? sprintf(" [%.2f]", err[n] / k) : ""
      eb = errby[best, n] ? sprintf(" [%.2f]", errby[best, n] / k) : ""
      printf "  %-16s %9.2f%s %9.2f%s\n", n, all[n] / k, e, by[best, n] / k, eb
    }
  }' "$WORK/strace" | sort -k2 -nr
