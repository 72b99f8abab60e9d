#!/usr/bin/env bash
# CPU per request of the rig's gateway, split by thread (worker, C1/C2 compiler, GC), the way
# run.sh counts it: WARM seconds of unrecorded load, 1 s idle, then DUR seconds measured.
#   docs/bench/cpu-per-request.sh ka1k 2 10
set -euo pipefail
sc=$1; warm=${2:-2}; dur=${3:-10}
RIG=${RIG:-/tmp/rig}; here=$(dirname "$0")
pid=$(pgrep -f "run --config $RIG/meshgate.yaml")
threads() { for t in /proc/"$pid"/task/*; do n=$(tr ' ' '_' < "$t"/comm); s=($(sed 's/.*) //' "$t"/stat)); echo "$n ${s[11]} ${s[12]}"; done \
  | awk '{u[$1]+=$2; s[$1]+=$3} END {for (k in u) print k, u[k], s[k]}' | sort; }
"$here/rig.sh" load "$sc" "$warm" > /dev/null; sleep 1
threads > "$RIG/t0"
out=$("$here/rig.sh" load "$sc" "$dur")
threads > "$RIG/t1"
n=$(echo "$out" | awk '/requests in/ {print $1}')
echo "$sc $(echo "$out" | awk '/^Requests\/sec/ {print $2}') req/s, $n requests; CPU us per request (per MiB for bulk1m):"
join "$RIG/t0" "$RIG/t1" | awk -v n="$n" -v tick="$(getconf CLK_TCK)" '{du=$4-$2; ds=$5-$3; if (du+ds>0) printf "  %-22s user %8.2f  sys %8.2f\n", $1, du*1e6/tick/n, ds*1e6/tick/n; tu+=du; ts+=ds}
  END {printf "  %-22s user %8.2f  sys %8.2f  = %.2f\n", "TOTAL", tu*1e6/tick/n, ts*1e6/tick/n, (tu+ts)*1e6/tick/n}'
