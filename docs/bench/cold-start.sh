#!/usr/bin/env bash
# Cold start: a freshly started meshgate (passthrough) takes close1k-like load at once, and its CPU
# per connection is printed in 1-s slices from the first connection (docs/bench/close-loop.py), after
# the time from launch until the listener accepted (JVM start, config, runtime.warmup, bind).
# Same pinning as the benchmark harness: the gateway alone on GW_CPUS (1), clients and endpoint on
# LOAD_CPUS (0). Ports are free ones on 127.0.0.1/127.0.0.2, so it runs beside anything else.
#
#   docs/bench/cold-start.sh [SECONDS] [CLIENTS]          # 20 s, 2 clients
#   MESHGATE_JAR=... WARMUP=0s MESHGATE_JVM_OPTS='-XX:SharedArchiveFile=app.jsa' docs/bench/cold-start.sh
#   WARMUP_CONNECTIONS=10000 WARMUP_MAX=30s ...   runtime.warmupConnections / runtime.warmupMax (default: the jar's)
#   GW_PIDFILE=FILE ...      writes the gateway's pid there (to attach a profiler to the steady state)
#   PROFILE=/tmp/p.txt ...   adds async-profiler (ASPROF_LIB, libasyncProfiler.so) for the whole run
#   GW_LOG=FILE ...          stops the gateway with SIGTERM after the load (so the JVM exits normally and
#                            its own logs, e.g. -XX:LogFile, are complete) and copies its log to FILE
set -euo pipefail
SECONDS_=${1:-20}
CLIENTS=${2:-2}
HERE=$(cd "$(dirname "$0")" && pwd)
JAR=${MESHGATE_JAR:-$HERE/../../gateway/target/meshgate.jar}
WARMUP=${WARMUP:-2s}
GW_CPUS=${GW_CPUS:-1}
LOAD_CPUS=${LOAD_CPUS:-0}
HOST=close.demo.svc.cluster.local
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
BACKEND_PORT=$(free_port); GW_PORT=$(free_port); ADMIN_PORT=$(free_port)
python3 "$HERE/client-hello.py" "outbound_.8080_._.$HOST" > "$WORK/hello"
taskset -c "$LOAD_CPUS" python3 "$HERE/close-loop.py" backend "$BACKEND_PORT" "$WORK/hello" &
PIDS+=($!)
cat > "$WORK/meshgate.yaml" <<YAML
listeners:
  - name: eastwest
    address: 127.0.0.1:$GW_PORT
    mode: passthrough
admin:
  address: 127.0.0.1:$ADMIN_PORT
runtime: {workers: 1, warmup: $WARMUP${WARMUP_CONNECTIONS:+, warmupConnections: $WARMUP_CONNECTIONS}${WARMUP_MAX:+, warmupMax: $WARMUP_MAX}}
discovery:
  static:
    - host: $HOST
      port: 8080
      endpoints: ["127.0.0.2:$BACKEND_PORT"]
YAML
AGENT=()
if [ -n "${PROFILE:-}" ]; then
  AGENT=("-agentpath:${ASPROF_LIB:?path to libasyncProfiler.so}=start,event=${PROFILE_EVENT:-cpu},interval=${PROFILE_INTERVAL:-1ms},file=$PROFILE,collapsed")
fi
t0=$(date +%s%N)
# shellcheck disable=SC2086
taskset -c "$GW_CPUS" java -XX:ActiveProcessorCount=1 -Xms512m -Xmx512m ${MESHGATE_JVM_OPTS:-} "${AGENT[@]}" \
  -jar "$JAR" run --config "$WORK/meshgate.yaml" >"$WORK/gw.log" 2>&1 &
GW=$!; PIDS+=($GW)
[ -n "${GW_PIDFILE:-}" ] && echo "$GW" > "$GW_PIDFILE"   # for attaching a profiler
until python3 -c "import socket; socket.create_connection(('127.0.0.1',$GW_PORT)).close()" 2>/dev/null; do
  kill -0 "$GW" 2>/dev/null || { cat "$WORK/gw.log"; exit 1; }
  sleep 0.05
done
t1=$(date +%s%N)
echo "launch to accepting: $(( (t1 - t0) / 1000000 )) ms (runtime.warmup $WARMUP; $(grep -o 'warm-up: .*' "$WORK/gw.log" || echo 'no warm-up'))"
taskset -c "$LOAD_CPUS" python3 "$HERE/close-loop.py" load "$GW_PORT" "$WORK/hello" "$SECONDS_" "$CLIENTS" "$GW"
if [ -n "${PROFILE:-}" ] || [ -n "${GW_LOG:-}" ]; then kill -TERM "$GW"; wait "$GW" 2>/dev/null || true; fi
if [ -n "${GW_LOG:-}" ]; then cp "$WORK/gw.log" "$GW_LOG"; fi
