#!/usr/bin/env bash
# docs/bench/h2.sh — HTTP/2 through a terminating east-west gateway: meshgate against HAProxy 2.6.
#
#   h2load ──h2c──► front (HAProxy, TLS client proxy: the sleep certificate, SNI outbound_.8080_._.httpbin...,
#                  ALPN h2, one upstream connection per h2load connection)
#          ──mTLS h2──► GATEWAY (meshgate terminate | HAProxy terminate, one thread, CPU 1 alone;
#                       each gateway has its own address and its own front port, all else is shared)
#          ──mTLS h2 (gateway identity)──► backend (nginx `listen ssl http2`, verifies the client, 1 KiB body)
#
# h2load has no client-certificate option, hence the front; front, h2load and backend are the same
# for both gateways and share CPU 0. Both gateways are started once and warmed up with
# WARMUP_REQUESTS requests each (the same h2load load, by count: a warm-up by time would give the
# slower gateway less of it), then measured in interleaved rounds (meshgate, haproxy, meshgate, ...) of DURATION s with
# CONNS connections x STREAMS streams; the gateway not measured is idle meanwhile. Gateway CPU per
# request = utime+stime delta of the gateway process (/proc/PID/stat, all its threads: a JVM's JIT
# compiler and GC count too) over the measured h2load run / requests completed.
# Warm-up: the same for both gateways, and long enough for a JIT. HotSpot compiles the request path
# with C2 only after ~10^4 invocations per method, on the gateway's one CPU, while it serves: a 10 s
# warm-up on a loaded 2-core host measured meshgate half-interpreted (CPU/request 5x its steady
# state, C2 still using ~17 % of the CPU). HAProxy, compiled ahead of time, is unaffected.
# WARMUP (s) only bounds the warm-up's wall time.
#
# Usage: BENCH=/path/to/benchmark-harness MESHGATE_JAR=$PWD/gateway/target/meshgate.jar docs/bench/h2.sh
#   BENCH        the wrk benchmark harness checkout: only its pki.sh is used (two-cluster PKI)
#   DURATION=30 WARMUP_REQUESTS=200000 WARMUP=300 ROUNDS=3 CONNS=8 STREAMS=8 OUT=/tmp/meshgate-h2-bench/<time>
#   BACKEND=127.0.0.1:28443 GW=127.0.0.1:25443 FRONT=127.0.0.1:27000 ADMIN=127.0.0.1:25000 (meshgate)
#   HAPROXY_GW=127.0.0.1:25444 HAPROXY_FRONT=127.0.0.1:27001
#   GATEWAYS="meshgate haproxy"  PIN=split (front/h2load/backend on CPU 0, gateway on CPU 1) | none
#   WARMUP_TAIL=0  after the warm-up, this many short runs (2,000 requests each) on new connections: the
#                warm-up's connections open while a JIT runs everything interpreted, so without them the
#                first measured round's new connections meet compiled code that never saw a connection open
#   SYSCALLS=1   also count the gateway's system calls during each measured run (perf stat on the
#                raw_syscalls/syscalls tracepoints, no PMU needed): syscalls per request in measurements.txt
# Needs: haproxy (2.6), nginx, h2load (Debian nghttp2-client), java 17, openssl, curl, taskset, ss.
set -euo pipefail

: "${BENCH:?set BENCH to the benchmark harness checkout (its pki.sh makes the PKI)}"
: "${MESHGATE_JAR:?set MESHGATE_JAR to the absolute path of gateway/target/meshgate.jar}"
DURATION=${DURATION:-30}
WARMUP_REQUESTS=${WARMUP_REQUESTS:-200000}
WARMUP=${WARMUP:-300}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-8}
STREAMS=${STREAMS:-8}
GATEWAYS=${GATEWAYS:-meshgate haproxy}
PIN=${PIN:-split}
SYSCALLS=${SYSCALLS:-0}
WARMUP_TAIL=${WARMUP_TAIL:-0}
SYSCALL_EVENTS=raw_syscalls:sys_enter,syscalls:sys_enter_read,syscalls:sys_enter_recvfrom,syscalls:sys_enter_write,syscalls:sys_enter_writev,syscalls:sys_enter_sendto,syscalls:sys_enter_sendmsg,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_pwait,syscalls:sys_enter_epoll_pwait2,syscalls:sys_enter_epoll_ctl
OUT=${OUT:-/tmp/meshgate-h2-bench/$(date -u +%Y%m%d-%H%M%S)}
RUN=$OUT/run
SNI=outbound_.8080_._.httpbin.default.svc.cluster.local
HOST=httpbin.default.svc.cluster.local
GW_ID=spiffe://cluster.local/ns/istio-system/sa/istio-eastwestgateway-service-account
# Loopback addresses, apart from the wrk harness's (18443/17000/15443/15000) so both can run.
BACKEND=${BACKEND:-127.0.0.1:28443}
GW=${GW:-127.0.0.1:25443}
FRONT=${FRONT:-127.0.0.1:27000}
HAPROXY_GW=${HAPROXY_GW:-127.0.0.1:25444}
HAPROXY_FRONT=${HAPROXY_FRONT:-127.0.0.1:27001}
declare -A GW_ADDR=([meshgate]=$GW [haproxy]=$HAPROXY_GW) FRONT_ADDR=([meshgate]=$FRONT [haproxy]=$HAPROXY_FRONT) GW_PIDS=()
ADMIN=${ADMIN:-127.0.0.1:25000}
case "$PIN" in
  split) SIDE_CPUS=0 GW_CPUS=1;;
  none) SIDE_CPUS= GW_CPUS=;;
  *) echo "PIN must be split or none" >&2; exit 2;;
esac
for tool in haproxy nginx h2load java openssl curl taskset ss; do
  command -v "$tool" >/dev/null || { echo "h2.sh: $tool is missing (h2load: apt-get install nghttp2-client)" >&2; exit 2; }
done

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
pinned() { local cpus=$1; shift; if [[ -n "$cpus" ]]; then taskset -c "$cpus" "$@"; else "$@"; fi; }
# bg CPUS LOG cmd... : start cmd in the background (taskset execs it: BG_PID is the real process).
bg() {
  local cpus=$1 lf=$2; shift 2
  if [[ -n "$cpus" ]]; then taskset -c "$cpus" "$@" </dev/null >>"$lf" 2>&1 &
  else "$@" </dev/null >>"$lf" 2>&1 &
  fi
  BG_PID=$!; PIDS+=("$BG_PID")
}
wait_port() { # HOST:PORT seconds
  local i; for ((i = 0; i < $2 * 20; i++)); do
    (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null && return 0; sleep 0.05
  done; return 1
}
# ticks PID: "utime stime" of the process (all threads), in clock ticks.
ticks() { local line rest; line=$(cat /proc/"$1"/stat) || { echo 0 0; return; }; rest=${line##*) }; read -r -a a <<<"$rest"; echo "${a[11]} ${a[12]}"; }
# side_ticks: CPU ticks of the front and the backend (nginx master and its workers) together: what a
# gateway makes the shared side do per request (record sizes, frames, window updates) shows here.
side_ticks() {
  local p sum=0 u s
  for p in "$FRONT_PID" "$BACKEND_PID" $(ps -o pid= --ppid "$BACKEND_PID"); do
    read -r u s < <(ticks "$p"); sum=$((sum + u + s))
  done
  echo "$sum"
}
CLK_TCK=$(getconf CLK_TCK)
PIDS=()
stop() { # PID: TERM, then KILL after 10 s
  local p=$1 i; kill -TERM "$p" 2>/dev/null || return 0
  for ((i = 0; i < 100; i++)); do kill -0 "$p" 2>/dev/null || { wait "$p" 2>/dev/null || true; return 0; }; sleep 0.1; done
  kill -KILL "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true
}
cleanup() { local p; for p in "${PIDS[@]}"; do stop "$p"; done; }
trap cleanup EXIT

mkdir -p "$RUN" "$OUT/raw" "$OUT/configs"
for hp in $BACKEND $GW $FRONT $ADMIN $HAPROXY_GW $HAPROXY_FRONT; do
  ! ss -Hltn "sport = :${hp##*:}" | grep -q . || die "$hp is in use"
done
PKI=$RUN/pki
"$BENCH/pki.sh" "$PKI" >/dev/null
SLEEP_HASH=$(openssl x509 -in "$PKI/sleep.pem" -outform DER | sha256sum | cut -d' ' -f1)

# --- backend: nginx, mTLS, h2, 1 KiB -----------------------------------------------------------
mkdir -p "$RUN/www"; head -c 1024 /dev/zero | tr '\0' 'x' > "$RUN/www/1k"
cat > "$OUT/configs/backend.conf" <<NGINX
worker_processes 1;
daemon off;
pid $RUN/nginx.pid;
error_log $RUN/backend-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  http2_max_concurrent_streams 128;
  server {
    listen $BACKEND ssl http2 backlog=4096;
    ssl_certificate $PKI/httpbin-chain.pem;
    ssl_certificate_key $PKI/httpbin.key;
    ssl_client_certificate $PKI/bundle.pem;
    ssl_verify_client on;
    ssl_verify_depth 3;
    root $RUN/www;
    location = /1k { default_type application/octet-stream; }
    location = /whoami { default_type text/plain; return 200 "\$server_protocol \$http_x_forwarded_client_cert\n"; }
  }
}
NGINX
bg "$SIDE_CPUS" "$RUN/backend.log" nginx -e "$RUN/backend-error.log" -c "$OUT/configs/backend.conf"
BACKEND_PID=$BG_PID
wait_port "$BACKEND" 10 || die "backend did not start (see $RUN/backend-error.log)"

# --- front: h2c in, mTLS h2 out with the sleep identity ------------------------------------------
cat > "$OUT/configs/front.cfg" <<CFG
global
    nbthread 1
    maxconn 4000
defaults
    mode http
    timeout connect 5s
    timeout client 120s
    timeout server 120s
    http-reuse always
$(for g in meshgate haproxy; do
    echo "frontend h2load-$g"
    echo "    bind ${FRONT_ADDR[$g]} proto h2"
    echo "    default_backend $g"
  done)
$(for g in meshgate haproxy; do
    echo "backend $g"
    echo "    # CONNS server lines to the same gateway, round robin: the streams spread over CONNS multiplexed"
    echo "    # connections to the gateway (one server line would pack them all on one; 'http-reuse never'"
    echo "    # opens a connection per stream behind an h2 frontend)."
    echo "    balance roundrobin"
    for ((i = 1; i <= CONNS; i++)); do
      echo "    server gw$i ${GW_ADDR[$g]} ssl crt $PKI/sleep.haproxy.pem ca-file $PKI/bundle.pem verify required sni str($SNI) verifyhost $SNI alpn h2 ssl-min-ver TLSv1.2"
    done
  done)
CFG
haproxy -c -q -f "$OUT/configs/front.cfg" || die "front: bad config"
bg "$SIDE_CPUS" "$RUN/front.log" haproxy -db -f "$OUT/configs/front.cfg"
FRONT_PID=$BG_PID
wait_port "$FRONT" 10 && wait_port "$HAPROXY_FRONT" 10 || die "front did not start (see $RUN/front.log)"

# --- gateways ------------------------------------------------------------------------------------
cat > "$OUT/configs/meshgate.yaml" <<YAML
listeners:
  - {name: eastwest-mtls, address: "$GW", mode: terminate}
admin:
  address: $ADMIN
tls:
  certificateChain: $PKI/eastwest-gw-chain.pem
  privateKey: $PKI/eastwest-gw.key
  trustBundle: $PKI/bundle.pem
  upstream: mtls
discovery:
  static:
    - {host: $HOST, port: 8080, protocol: http2, endpoints: ["$BACKEND"]}
YAML
cat > "$OUT/configs/haproxy.cfg" <<CFG
global
    nbthread 1
    maxconn 4000
    ssl-default-bind-options ssl-min-ver TLSv1.2
    ssl-default-server-options ssl-min-ver TLSv1.2
defaults
    mode http
    timeout connect 5s
    timeout client 120s
    timeout server 120s
    timeout http-request 10s
    timeout http-keep-alive 120s
    http-reuse always
frontend eastwest
    bind $HAPROXY_GW backlog 4096 ssl crt $PKI/eastwest-gw.haproxy.pem ca-file $PKI/bundle.pem verify required alpn h2,http/1.1
    http-request deny deny_status 421 unless { ssl_fc_sni -i $SNI }
    http-request set-header X-Forwarded-Client-Cert "By=$GW_ID;Hash=%[ssl_c_der,digest(sha256),hex,lower];Subject=\"%[ssl_c_s_dn]\""
    use_backend outbound_8080_httpbin_default
backend outbound_8080_httpbin_default
    server httpbin-pod-1 $BACKEND ssl alpn h2 crt $PKI/eastwest-gw.haproxy.pem ca-file $PKI/bundle.pem verify required sni str($SNI) verifyhost $SNI
CFG
haproxy -c -q -f "$OUT/configs/haproxy.cfg" || die "haproxy gateway: bad config"

start_gateway() { # NAME
  case "$1" in
    meshgate)
      # shellcheck disable=SC2086
      bg "$GW_CPUS" "$RUN/meshgate.log" java -XX:ActiveProcessorCount=1 -Xms512m -Xmx512m -XX:+AlwaysPreTouch ${MESHGATE_JVM_OPTS:-} \
        -jar "$MESHGATE_JAR" run --config "$OUT/configs/meshgate.yaml";;
    haproxy)
      bg "$GW_CPUS" "$RUN/haproxy.log" haproxy -db -f "$OUT/configs/haproxy.cfg";;
    *) die "unknown gateway $1";;
  esac
  GW_PIDS[$1]=$BG_PID
  wait_port "${GW_ADDR[$1]}" 90 || die "$1 did not start (see $RUN/$1.log)"
}

# The request reaches the backend over h2, with the caller's identity: else the numbers mean nothing.
check_path() { # NAME
  local who; who=$(curl -sS --max-time 10 --http2-prior-knowledge "http://${FRONT_ADDR[$1]}/whoami") || die "$1: /whoami failed"
  [[ $who == "HTTP/2.0 "*"Hash=$SLEEP_HASH"* ]] || die "$1: backend saw '$who' (want HTTP/2.0 and XFCC Hash=$SLEEP_HASH)"
  local body; body=$(curl -sS --max-time 10 --http2-prior-knowledge "http://${FRONT_ADDR[$1]}/1k" | wc -c)
  [[ $body == 1024 ]] || die "$1: /1k returned $body bytes"
}

h2load_run() { # GATEWAY SECONDS OUTFILE
  pinned "$SIDE_CPUS" timeout $(($2 + 30)) h2load -c "$CONNS" -m "$STREAMS" -t 1 -D "$2" "http://${FRONT_ADDR[$1]}/1k" >"$3" 2>&1 \
    || { cat "$3" >&2; die "h2load failed"; }
}
warm_up() { # GATEWAY OUTFILE: WARMUP_REQUESTS requests, at most WARMUP s; then WARMUP_TAIL short runs
  pinned "$SIDE_CPUS" timeout "$WARMUP" h2load -c "$CONNS" -m "$STREAMS" -t 1 -n "$WARMUP_REQUESTS" "http://${FRONT_ADDR[$1]}/1k" >"$2" 2>&1 \
    || log "$1: warm-up stopped after ${WARMUP}s (see $2)"
  local i
  for ((i = 0; i < WARMUP_TAIL; i++)); do
    pinned "$SIDE_CPUS" timeout 60 h2load -c "$CONNS" -m "$STREAMS" -t 1 -n 2000 "http://${FRONT_ADDR[$1]}/1k" >>"$2.tail" 2>&1 \
      || log "$1: warm-up tail run $i failed (see $2.tail)"
  done
}

{
  echo "date=$(date -u +%FT%TZ) host=$(hostname) nproc=$(nproc) pin=$PIN duration=$DURATION warmup_requests=$WARMUP_REQUESTS warmup_tail=$WARMUP_TAIL warmup_max=$WARMUP rounds=$ROUNDS conns=$CONNS streams=$STREAMS"
  echo "meshgate=$(java -jar "$MESHGATE_JAR" version 2>&1 | head -1)"
  echo "haproxy=$(haproxy -v | head -1)"
  echo "nginx=$(nginx -v 2>&1)"
  echo "h2load=$(h2load --version | head -1)"
} > "$OUT/env.txt"
: > "$OUT/measurements.txt"

declare -A WARM_RPS=()
for g in $GATEWAYS; do
  log "$g: start, check, warm up ($WARMUP_REQUESTS requests, at most ${WARMUP}s)"
  start_gateway "$g"
  check_path "$g"
  warm_up "$g" "$OUT/raw/$g-warmup.txt"
  WARM_RPS[$g]=$(sed -n 's/^finished in .*, \([0-9.]*\) req\/s.*/\1/p' "$OUT/raw/$g-warmup.txt")
  WARM_RPS[$g]=${WARM_RPS[$g]:-timeout}
done

for ((round = 1; round <= ROUNDS; round++)); do
  for g in $GATEWAYS; do
    log "round $round: $g"
    pid=${GW_PIDS[$g]}
    kill -0 "$pid" 2>/dev/null || die "$g exited (see $RUN/$g.log)"
    read -r u0 s0 < <(ticks "$pid"); side0=$(side_ticks)
    if ((SYSCALLS)); then
      perf stat -x, -e "$SYSCALL_EVENTS" -p "$pid" -o "$OUT/raw/$g-r$round.syscalls" & perf_pid=$!
    fi
    h2load_run "$g" "$DURATION" "$OUT/raw/$g-r$round.txt"
    if ((SYSCALLS)); then kill -INT "$perf_pid"; wait "$perf_pid" || true; fi
    read -r u1 s1 < <(ticks "$pid"); side1=$(side_ticks)
    t0=$((u0 + s0)) t1=$((u1 + s1))
    raw=$OUT/raw/$g-r$round.txt
    rps=$(sed -n 's/^finished in .*, \([0-9.]*\) req\/s.*/\1/p' "$raw")
    read -r total done ok failed errored < <(sed -n 's/^requests: \([0-9]*\) total, [0-9]* started, \([0-9]*\) done, \([0-9]*\) succeeded, \([0-9]*\) failed, \([0-9]*\) errored.*/\1 \2 \3 \4 \5/p' "$raw")
    s2xx=$(sed -n 's/^status codes: \([0-9]*\) 2xx.*/\1/p' "$raw")
    [[ -n $rps && -n $ok ]] || die "cannot read $raw"
    cpu_us=$(awk -v t=$((t1 - t0)) -v hz="$CLK_TCK" -v n="$ok" 'BEGIN { printf "%.1f", n ? t * 1e6 / hz / n : 0 }')
    side_us=$(awk -v t=$((side1 - side0)) -v hz="$CLK_TCK" -v n="$ok" 'BEGIN { printf "%.1f", n ? t * 1e6 / hz / n : 0 }')
    # The front keeps its idle connections: what the gateway holds open now is what carried the load.
    gw=${GW_ADDR[$g]}
    conns=$(ss -Htn state established "( sport = :${gw##*:} )" | wc -l)
    sys=
    if ((SYSCALLS)); then
      sys=$(awk -F, -v n="$ok" '$3 ~ /sys_enter/ && n { e = $3; sub(/.*sys_enter_?/, "", e); if (e == "") e = "all";
        printf " sys_%s_per_req=%.3f", e, $1 / n }' "$OUT/raw/$g-r$round.syscalls")
    fi
    echo "round=$round gateway=$g req_s=$rps requests=$ok failed=$failed errored=$errored status_2xx=$s2xx gw_cpu_ticks=$((t1 - t0)) gw_user_ticks=$((u1 - u0)) gw_sys_ticks=$((s1 - s0)) gw_cpu_us_per_req=$cpu_us side_cpu_us_per_req=$side_us gw_conns=$conns warmup_req_s=${WARM_RPS[$g]} load=$(cut -d' ' -f1 /proc/loadavg)$sys" \
      | tee -a "$OUT/measurements.txt" >&2
    ((failed == 0 && errored == 0)) || die "$g: $failed failed, $errored errored requests (see $raw)"
  done
done

python3 - "$OUT/measurements.txt" "$OUT/env.txt" > "$OUT/summary.md" <<'PY'
import statistics, sys
rows = [dict(kv.split("=", 1) for kv in line.split()) for line in open(sys.argv[1]) if line.strip()]
env = open(sys.argv[2]).read().strip()
print("# h2load through a terminating gateway: meshgate vs HAProxy\n")
print("```\n" + env + "\n```\n")
print("| gateway | req/s (median) | gw CPU µs/req (median) | rounds req/s | rounds µs/req | front+backend µs/req | gateway connections | host load (1 min) |")
print("|---|---|---|---|---|---|---|---|")
for g in dict.fromkeys(r["gateway"] for r in rows):
    rs = [r for r in rows if r["gateway"] == g]
    rps = [float(r["req_s"]) for r in rs]
    cpu = [float(r["gw_cpu_us_per_req"]) for r in rs]
    print(f"| {g} | {statistics.median(rps):,.0f} | {statistics.median(cpu):.1f} | "
          + " / ".join(f"{x:,.0f}" for x in rps) + " | " + " / ".join(f"{x:.1f}" for x in cpu) + " | " + " / ".join(r.get("side_cpu_us_per_req", "?") for r in rs)
          + " | " + " / ".join(r["gw_conns"] for r in rs) + " | " + " / ".join(r.get("load", "?") for r in rs) + " |")
PY
cat "$OUT/summary.md"
log "results in $OUT"
