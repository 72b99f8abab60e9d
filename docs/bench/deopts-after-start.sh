#!/usr/bin/env bash
# How much of the warm-up's compiled code survives the start: a fresh meshgate (passthrough, as
# cold-start.sh runs it) with HotSpot's compilation log, close1k-like load for SECONDS, then the C2
# (level 4) uncommon traps, methods made not entrant and C2 compilations AFTER the "meshgate ready"
# line, with the top trap sites by reason and method@bci (docs/bench/deopts.py). Counts, not
# timings: they hardly depend on how busy the host is, so this runs on a loaded machine too.
#
#   docs/bench/deopts-after-start.sh [SECONDS] [CLIENTS] [TOP]      # 4 s, 2 clients, top 20
#   WARMUP=20s MESHGATE_JAR=... docs/bench/deopts-after-start.sh     # runtime.warmup (default 2s)
#   WARMUP_CONNECTIONS=10000 WARMUP_MAX=30s ...                      # runtime.warmupConnections, warmupMax (cold-start.sh)
#   KEEP=DIR ...                                                     # keeps compilation.log and gateway.log
#
# The compilation log is written by the JVM flags below, passed by this script only: the jar itself
# is launched as the benchmark launches it.
set -euo pipefail
SECONDS_=${1:-4}
CLIENTS=${2:-2}
TOP=${3:-20}
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${KEEP:-$(mktemp -d)}
mkdir -p "$OUT"
[ -n "${KEEP:-}" ] || trap 'rm -rf "$OUT"' EXIT
rm -f "$OUT/compilation.log" "$OUT/gateway.log"
MESHGATE_JVM_OPTS="${MESHGATE_JVM_OPTS:-} -XX:+UnlockDiagnosticVMOptions -XX:+LogCompilation -XX:LogFile=$OUT/compilation.log" \
  GW_LOG="$OUT/gateway.log" "$HERE/cold-start.sh" "$SECONDS_" "$CLIENTS"
python3 "$HERE/deopts.py" "$OUT/compilation.log" "$OUT/gateway.log" "$TOP"
