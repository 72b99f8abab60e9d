#!/usr/bin/env bash
# docs/bench/h2.sh — HTTP/2 through a terminating east-west gateway: meshgate against HAProxy 2.6.
#
#   h2load ──h2c──► front (HAProxy, TLS client proxy: the sleep certificate, SNI outbound_.8080_._.httpbin...,
#                  ALPN h2, one upstream connection per h2load connection)
#          ──mTLS h2──► GATEWAY (meshgate terminate | HAProxy terminate, one thread, CPU 1 alone)
#          ──mTLS h2 (gateway identity)──► backend (nginx `listen ssl http2`, verifies the client, 1 KiB body)
#
# h2load has no client-certificate option, hence the front; front, h2load and backend are the same
# for both gateways and share CPU 0. Gateways run interleaved (meshgate, haproxy, meshgate, ...),
# each restarted per round, warmed up for WARMUP s, then measured for DURATION s with
# CONNS connections x STREAMS streams. Gateway CPU per request = utime+stime delta of the gateway
# process (/proc/PID/stat) over the measured h2load run / requests completed.
#
# Usage: BENCH=/path/to/benchmark-harness MESHGATE_JAR=$PWD/gateway/target/meshgate.jar docs/bench/h2.sh
#   BENCH        the wrk benchmark harness checkout: only its pki.sh is used (two-cluster PKI)
#   DURATION=30 WARMUP=10 ROUNDS=3 CONNS=8 STREAMS=8 OUT=/tmp/meshgate-h2-bench/<time>
#   BACKEND=127.0.0.1:28443 GW=127.0.0.1:25443 FRONT=127.0.0.1:27000 ADMIN=127.0.0.1:25000
#   GATEWAYS="meshgate haproxy"  PIN=split (front/h2load/backend on CPU 0, gateway on CPU 1) | none
# Needs: haproxy (2.6), nginx, h2load (Debian nghttp2-client), java 17, openssl, curl, taskset, ss.
set -euo pipefail

: "${BENCH:?set BENCH to the benchmark harness checkout (its pki.sh makes the PKI)}"
: "${MESHGATE_JAR:?set MESHGATE_JAR to the absolute path of gateway/target/meshgate.jar}"
DURATION=${DURATION:-30}
WARMUP=${WARMUP:-10}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-8}
STREAMS=${STREAMS:-8}
GATEWAYS=${GATEWAYS:-meshgate haproxy}
PIN=${PIN:-split}
OUT=${OUT:-/tmp/meshgate-h2-bench/$(date -u +%Y%m%d-%H%M%S)}
RUN=$OUT/run
SNI=outbound_.8080_._.httpbin.default.svc.cluster.local
HOST=httpbin.default.svc.cluster.local
GW_ID=spiffe://cluster.local/ns/istio-system/sa/istio-eastwestgateway-service-account
# Loopback addresses, apart from the wrk harness's (18443/17000/15443/15000) so both can run.
BACKEND=${BACKEND:-127.0.0.1:28443}
GW=${GW:-127.0.0.1:25443}
FRONT=${FRONT:-127.0.0.1:27000}
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
ticks() { local line rest; line=$(cat /proc/"$1"/stat) || { echo 0; return; }; rest=${line##*) }; read -r -a a <<<"$rest"; echo $((a[11] + a[12])); }
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
for hp in $BACKEND $GW $FRONT $ADMIN; do
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
frontend h2load
    bind $FRONT proto h2
    default_backend gateway
backend gateway
    # CONNS server lines to the same gateway, round robin: the streams spread over CONNS multiplexed
    # connections to the gateway (one server line would pack them all on one; 'http-reuse never'
    # opens a connection per stream behind an h2 frontend).
    balance roundrobin
$(for ((i = 1; i <= CONNS; i++)); do
    echo "    server gw$i $GW ssl crt $PKI/sleep.haproxy.pem ca-file $PKI/bundle.pem verify required sni str($SNI) verifyhost $SNI alpn h2 ssl-min-ver TLSv1.2"
  done)
CFG
haproxy -c -q -f "$OUT/configs/front.cfg" || die "front: bad config"
bg "$SIDE_CPUS" "$RUN/front.log" haproxy -db -f "$OUT/configs/front.cfg"
wait_port "$FRONT" 10 || die "front did not start (see $RUN/front.log)"

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
    bind $GW backlog 4096 ssl crt $PKI/eastwest-gw.haproxy.pem ca-file $PKI/bundle.pem verify required alpn h2,http/1.1
    http-request deny deny_status 421 unless { ssl_fc_sni -i $SNI }
    http-request set-header X-Forwarded-Client-Cert "By=$GW_ID;Hash=%[ssl_c_der,digest(sha256),hex,lower];Subject=\"%[ssl_c_s_dn]\""
    use_backend outbound_8080_httpbin_default
backend outbound_8080_httpbin_default
    server httpbin-pod-1 $BACKEND ssl alpn h2 crt $PKI/eastwest-gw.haproxy.pem ca-file $PKI/bundle.pem verify required sni str($SNI) verifyhost $SNI
CFG
haproxy -c -q -f "$OUT/configs/haproxy.cfg" || die "haproxy gateway: bad config"

GW_PID=
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
  GW_PID=$BG_PID
  wait_port "$GW" 90 || die "$1 did not start (see $RUN/$1.log)"
}
stop_gateway() { stop "$GW_PID"; GW_PID=; }

# The request reaches the backend over h2, with the caller's identity: else the numbers mean nothing.
check_path() { # NAME
  local who; who=$(curl -sS --max-time 10 --http2-prior-knowledge "http://$FRONT/whoami") || die "$1: /whoami failed"
  [[ $who == "HTTP/2.0 "*"Hash=$SLEEP_HASH"* ]] || die "$1: backend saw '$who' (want HTTP/2.0 and XFCC Hash=$SLEEP_HASH)"
  local body; body=$(curl -sS --max-time 10 --http2-prior-knowledge "http://$FRONT/1k" | wc -c)
  [[ $body == 1024 ]] || die "$1: /1k returned $body bytes"
}

h2load_run() { # SECONDS OUTFILE
  pinned "$SIDE_CPUS" timeout $(($1 + 30)) h2load -c "$CONNS" -m "$STREAMS" -t 1 -D "$1" "http://$FRONT/1k" >"$2" 2>&1 \
    || { cat "$2" >&2; die "h2load failed"; }
}

{
  echo "date=$(date -u +%FT%TZ) host=$(hostname) nproc=$(nproc) pin=$PIN duration=$DURATION warmup=$WARMUP rounds=$ROUNDS conns=$CONNS streams=$STREAMS"
  echo "meshgate=$(java -jar "$MESHGATE_JAR" version 2>&1 | head -1)"
  echo "haproxy=$(haproxy -v | head -1)"
  echo "nginx=$(nginx -v 2>&1)"
  echo "h2load=$(h2load --version | head -1)"
} > "$OUT/env.txt"
: > "$OUT/measurements.txt"

for ((round = 1; round <= ROUNDS; round++)); do
  for g in $GATEWAYS; do
    log "round $round: $g"
    start_gateway "$g"
    check_path "$g"
    h2load_run "$WARMUP" "$OUT/raw/$g-r$round-warmup.txt"
    t0=$(ticks "$GW_PID")
    h2load_run "$DURATION" "$OUT/raw/$g-r$round.txt"
    t1=$(ticks "$GW_PID")
    raw=$OUT/raw/$g-r$round.txt
    rps=$(sed -n 's/^finished in .*, \([0-9.]*\) req\/s.*/\1/p' "$raw")
    read -r total done ok failed errored < <(sed -n 's/^requests: \([0-9]*\) total, [0-9]* started, \([0-9]*\) done, \([0-9]*\) succeeded, \([0-9]*\) failed, \([0-9]*\) errored.*/\1 \2 \3 \4 \5/p' "$raw")
    s2xx=$(sed -n 's/^status codes: \([0-9]*\) 2xx.*/\1/p' "$raw")
    [[ -n $rps && -n $ok ]] || die "cannot read $raw"
    cpu_us=$(awk -v t=$((t1 - t0)) -v hz="$CLK_TCK" -v n="$ok" 'BEGIN { printf "%.1f", n ? t * 1e6 / hz / n : 0 }')
    # The front keeps its idle connections: what the gateway holds open now is what carried the load.
    conns=$(ss -Htn state established "( sport = :${GW##*:} )" | wc -l)
    echo "round=$round gateway=$g req_s=$rps requests=$ok failed=$failed errored=$errored status_2xx=$s2xx gw_cpu_ticks=$((t1 - t0)) gw_cpu_us_per_req=$cpu_us gw_conns=$conns" \
      | tee -a "$OUT/measurements.txt" >&2
    ((failed == 0 && errored == 0)) || die "$g: $failed failed, $errored errored requests (see $raw)"
    stop_gateway
  done
done

python3 - "$OUT/measurements.txt" "$OUT/env.txt" > "$OUT/summary.md" <<'PY'
import statistics, sys
rows = [dict(kv.split("=", 1) for kv in line.split()) for line in open(sys.argv[1]) if line.strip()]
env = open(sys.argv[2]).read().strip()
print("# h2load through a terminating gateway: meshgate vs HAProxy\n")
print("```\n" + env + "\n```\n")
print("| gateway | req/s (median) | gw CPU µs/req (median) | rounds req/s | rounds µs/req | gateway connections |")
print("|---|---|---|---|---|---|")
for g in dict.fromkeys(r["gateway"] for r in rows):
    rs = [r for r in rows if r["gateway"] == g]
    rps = [float(r["req_s"]) for r in rs]
    cpu = [float(r["gw_cpu_us_per_req"]) for r in rs]
    print(f"| {g} | {statistics.median(rps):,.0f} | {statistics.median(cpu):.1f} | "
          + " / ".join(f"{x:,.0f}" for x in rps) + " | " + " / ".join(f"{x:.1f}" for x in cpu) + " | " + " / ".join(r["gw_conns"] for r in rs) + " |")
PY
cat "$OUT/summary.md"
log "results in $OUT"
