#!/usr/bin/env bash
# Correctness under load: both listener modes (passthrough, terminate) through the wrk benchmark
# harness (kept outside this repository; BENCH points at it) under Netty's PARANOID leak detection,
# ka1k + close1k + bulk1m, then checks that nothing was lost:
#   - 0 wrk errors (connect, read, write, timeout, non-2xx) in every measured and warm-up load,
#   - 0 "LEAK:" lines and 0 exceptions that reached the tail of a pipeline in the gateway logs.
# Speed is not the point: other load on the machine is fine.
#
#   MESHGATE_JAR=/abs/gateway/target/meshgate.jar docs/bench/soak.sh        # ~12 min with the defaults
#   DURATION=100  seconds per scenario per mode (measured; 2 modes x 3 scenarios x 100 s = 10 min)
#   WARMUP=2      seconds of unrecorded load before each measurement (checked for errors too)
#   OUT=DIR       where run.sh writes (default /tmp/meshgate-soak-<time>); gateway logs are copied to DIR/logs
# Exit status 0 only when every check passes.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BENCH=${BENCH:-$(cd "$HERE/../../../shared/bench" 2>/dev/null && pwd || true)}
[[ -n "$BENCH" && -x "$BENCH/run.sh" ]] || { echo "set BENCH to the benchmark harness directory" >&2; exit 2; }
export MESHGATE_JAR=${MESHGATE_JAR:-$HERE/../../gateway/target/meshgate.jar}
[[ -f "$MESHGATE_JAR" ]] || { echo "no jar at $MESHGATE_JAR (build it first)" >&2; exit 2; }
MESHGATE_JAR=$(readlink -f "$MESHGATE_JAR")
export MESHGATE_JVM_OPTS="${MESHGATE_JVM_OPTS:-} -Dio.netty.leakDetection.level=paranoid"
export DURATION=${DURATION:-100} WARMUP=${WARMUP:-2} ROUNDS=1 SCENARIOS="ka1k close1k bulk1m"
export OUT=${OUT:-/tmp/meshgate-soak-$(date +%Y%m%d-%H%M%S)}
export RUN_ROOT=${RUN_ROOT:-/tmp/bench-run}
MODES=(meshgate-passthrough meshgate-terminate)

gateways=()
for m in "${MODES[@]}"; do gateways+=("custom:gateways/examples/$m.env"); done
echo "soak: ${MODES[*]} x [$SCENARIOS] x ${DURATION}s, PARANOID leak detection; output in $OUT" >&2
rc=0
(cd "$BENCH" && ./run.sh "${gateways[@]}") > /dev/null || rc=$?

# Gateway logs: run.sh keeps each gateway's output in RUN_ROOT/gw/<name>/gateway.log until the next start.
mkdir -p "$OUT/logs"
for g in "${gateways[@]}"; do
  src="$RUN_ROOT/gw/${g//[:\/]/_}/gateway.log"
  [[ -f "$src" ]] && cp "$src" "$OUT/logs/$(basename "${g%.env}").log"
done

python3 - "$OUT" "$rc" "${MODES[@]}" <<'PY'
import glob, os, re, sys
out, run_rc, modes = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
ok = run_rc == 0
if not ok:
    print(f"run.sh exited with {run_rc}")
ERRS = ("err_connect", "err_read", "err_write", "err_timeout", "err_status")
requests = 0
rows = []
for line in open(os.path.join(out, "measurements.txt")):
    kv = dict(f.split("=", 1) for f in line.split() if "=" in f)
    errs = {k: int(float(kv.get(k, 0))) for k in ERRS}
    n = int(float(kv.get("requests", 0)))
    requests += n
    rows.append((kv["gw"], kv["scen"], n, errs, int(kv.get("wrk_rc", 0))))
print(f"{'gateway':<55} {'scenario':<8} {'requests':>10}  errors (connect/read/write/timeout/non-2xx)")
for gw, sc, n, errs, wrk_rc in rows:
    print(f"{gw:<55} {sc:<8} {n:>10}  " + "/".join(str(errs[k]) for k in ERRS) + (f"  wrk rc {wrk_rc}" if wrk_rc else ""))
    if any(errs.values()) or wrk_rc or n == 0:
        ok = False
if len(rows) != 3 * len(modes):
    print(f"expected {3 * len(modes)} measurements, found {len(rows)}")
    ok = False
# Warm-up loads are not in measurements.txt: read wrk's own error lines.
warm_errors = 0
for f in glob.glob(os.path.join(out, "raw", "*.warmup")):
    text = open(f, errors="replace").read()
    for m in re.finditer(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text):
        warm_errors += sum(int(x) for x in m.groups())
    for m in re.finditer(r"Non-2xx or 3xx responses: (\d+)", text):
        warm_errors += int(m.group(1))
print(f"total requests measured: {requests}; wrk errors in warm-up loads: {warm_errors}")
ok &= warm_errors == 0
for mode in modes:
    log = os.path.join(out, "logs", mode + ".log")
    if not os.path.exists(log):
        print(f"{mode}: no gateway log"); ok = False; continue
    text = open(log, errors="replace").read()
    leaks = text.count("LEAK:")
    tail = text.count("reached at the tail of the pipeline")
    traces = len(re.findall(r"^\s+at [\w.$]+\(", text, re.M))
    print(f"{mode}: LEAK lines {leaks}, exceptions at a pipeline tail {tail}, stack-trace lines {traces} ({log})")
    ok &= leaks == 0 and tail == 0
print("SOAK PASS" if ok else "SOAK FAIL")
sys.exit(0 if ok else 1)
PY
