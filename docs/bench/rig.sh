#!/usr/bin/env bash
# A single-gateway rig around ../shared/bench's backend and sidecar, for profiling and A/B runs
# outside run.sh (same pinning: wrk/sidecar/backend on CPU 0, meshgate alone on CPU 1).
#   docs/bench/rig.sh start                      backend + sidecar (sidecar dials 127.0.0.1:15443)
#   RIG_EXTRA='runtime: {splice: off}' docs/bench/rig.sh gw JAR [JVM options...]   (re)start meshgate
#   docs/bench/rig.sh load ka1k|bulk1m|close1k|lat1k SECONDS
#   docs/bench/rig.sh stop
set -euo pipefail
BENCH=${BENCH:-$(cd "$(dirname "$0")/../../../shared/bench" && pwd)}
export RUN_ROOT=${RUN_ROOT:-/tmp/bench-run} PKI_DIR=${PKI_DIR:-/tmp/bench-run/pki}
RIG=${RIG:-/tmp/rig}
cd "$BENCH"
case "$1" in
  start) [[ -f $PKI_DIR/bundle.pem ]] || ./pki.sh "$PKI_DIR"
         bash backend/backend.sh start >/dev/null; bash sidecar/sidecar.sh start 127.0.0.1:15443 >/dev/null; echo started;;
  stop) pkill -f "run --config $RIG/meshgate.yaml" || true
        bash sidecar/sidecar.sh stop >/dev/null 2>&1 || true; bash backend/backend.sh stop >/dev/null 2>&1 || true; echo stopped;;
  gw) jar=$2; shift 2; mkdir -p "$RIG"
      cat > "$RIG/meshgate.yaml" <<YAML
listeners:
  - name: eastwest
    address: 127.0.0.1:15443
    mode: passthrough
admin:
  address: 127.0.0.1:15000
discovery:
  static:
    - host: httpbin.default.svc.cluster.local
      port: 8080
      endpoints: ["127.0.0.1:18443"]
${RIG_EXTRA:-}
YAML
      pkill -f "run --config $RIG/meshgate.yaml" || true; sleep 0.5
      setsid taskset -c 1 java -XX:ActiveProcessorCount=1 -Xms512m -Xmx512m -XX:+AlwaysPreTouch "$@" \
        -jar "$jar" run --config "$RIG/meshgate.yaml" > "$RIG/gw.log" 2>&1 < /dev/null &
      for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/15443) 2>/dev/null && break; sleep 0.1; done
      pgrep -f "run --config $RIG/meshgate.yaml";;
  load) d=${3:-10}
        case $2 in
          ka1k)    taskset -c 0 wrk -t1 -c32 -d"${d}s" http://127.0.0.1:17000/1k;;
          bulk1m)  taskset -c 0 wrk -t1 -c8 -d"${d}s" http://127.0.0.1:17000/1m;;
          close1k) taskset -c 0 wrk -t1 -c32 -d"${d}s" -H 'Connection: close' http://127.0.0.1:17000/1k;;
          lat1k)   taskset -c 0 wrk -t1 -c1 -d"${d}s" --latency http://127.0.0.1:17000/1k;;
        esac;;
  *) echo "usage: $0 start|stop|gw JAR [jvm options]|load SCENARIO [SECONDS]" >&2; exit 2;;
esac
