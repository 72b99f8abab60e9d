#!/usr/bin/env python3
"""C2 deoptimisations at a gateway's start and under its first traffic, from HotSpot's compilation log.

    deopts.py COMPILATION_LOG GATEWAY_LOG [TOP] [LOOKBACK_SECONDS]

COMPILATION_LOG is what -XX:+UnlockDiagnosticVMOptions -XX:+LogCompilation -XX:LogFile=FILE wrote
(complete once the JVM exited normally); GATEWAY_LOG is meshgate's own log. The compilation log
stamps its events in seconds since the VM started and gives the VM's start as wall-clock
milliseconds (hotspot_log time_ms); meshgate's log lines carry wall-clock milliseconds. Two windows:

- serving: from the "meshgate ready" line until the stop signal ("signal received", if any: the
  drain and exit are no part of the start);
- start: the LOOKBACK_SECONDS (1) before the warm-up's summary line ("warm-up: N connections ...",
  logged once its connections and endpoints are closed) until the ready line: the warm-up's last
  connections, its teardown, the listeners' bind. Without a warm-up line this window is empty.

Counted in each: uncommon traps hit in C2 (level 4) code, i.e. compiled code meeting a case its
profile never showed (a new receiver class, a branch never taken), which throws the compiled
method away ("made not entrant") or has it recompiled; level-4 methods made not entrant; C2
compilations queued. Then the top TOP (20) trap sites of both windows by window, reason and method@bci
(the innermost inlined method where the trap is), and the compiled methods made not entrant.
"""
import collections
import datetime
import html
import re
import sys

ATTR = re.compile(r"(\w+)='([^']*)'")
WARMUP_LINE = re.compile(r" warm-up: \d+ connections")


def attrs(line):
    return dict(ATTR.findall(line))


def short(method):
    """'io.netty.util.internal.InternalThreadLocalMap get ()L...;' -> 'InternalThreadLocalMap.get'"""
    parts = html.unescape(method).split(" ")
    klass = parts[0].replace("/", ".").rsplit(".", 1)[-1]
    return f"{klass}.{parts[1]}" if len(parts) > 1 else klass


def wall_ms(line):
    stamp = line.split(" ", 1)[0]
    return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000


def windows_ms(gateway_log, lookback_ms):
    """[(name, from, to)] in wall-clock ms."""
    warmup, ready, stop = None, None, float("inf")
    with open(gateway_log, errors="replace") as f:
        for line in f:
            if ready is None and warmup is None and WARMUP_LINE.search(line):
                warmup = wall_ms(line)
            elif ready is None and "meshgate ready" in line:
                ready = wall_ms(line)
            elif ready is not None and "signal received" in line:
                stop = wall_ms(line)
                break
    if ready is None:
        sys.exit(f"no 'meshgate ready' line in {gateway_log}")
    start = warmup - lookback_ms if warmup is not None else ready
    return [("start", start, ready), ("serving", ready, stop)]


def main():
    comp_log, gw_log = sys.argv[1], sys.argv[2]
    top = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    lookback = float(sys.argv[4]) if len(sys.argv) > 4 else 1.0
    windows = windows_ms(gw_log, lookback * 1000)
    vm_start = None
    methods = {}          # compile_id -> method, for level-4 compilations
    traps = collections.Counter()
    not_entrant = collections.Counter()
    counts = collections.Counter()
    open_trap = None      # (window, reason, [method@bci]) inside a runtime <uncommon_trap ...>...</uncommon_trap>

    def window(a):
        if vm_start is None or "stamp" not in a:
            return None
        t = vm_start + float(a["stamp"]) * 1000
        return next((name for name, lo, hi in windows if lo <= t < hi), None)

    with open(comp_log, errors="replace") as f:
        for line in f:
            if vm_start is None and line.startswith("<hotspot_log "):
                vm_start = float(attrs(line)["time_ms"])
                continue
            if open_trap is not None:
                if line.startswith("<jvms "):
                    a = attrs(line)
                    open_trap[2].append(f"{short(a.get('method', '?'))}@{a.get('bci', '?')}")
                elif line.startswith("</uncommon_trap>"):
                    w, reason, frames = open_trap
                    traps[(w, reason, frames[0] if frames else "?")] += 1
                    open_trap = None
                continue
            if line.startswith(("<task_queued ", "<nmethod ")):
                a = attrs(line)
                # a task for the highest tier (C2) carries no level attribute
                level = a.get("level", "4" if line.startswith("<task_queued ") else "?")
                if level == "4" and "method" in a:
                    methods[a["compile_id"]] = short(a["method"])
                    w = window(a) if line.startswith("<task_queued ") else None
                    if w:
                        counts[(w, "C2 compilations queued")] += 1
                continue
            # Runtime events carry a thread attribute; the same element names inside a compilation
            # (the traps C2 emitted into code, not hit) do not.
            if line.startswith("<uncommon_trap thread="):
                a = attrs(line)
                w = window(a)
                if a.get("level") != "4" or not w:
                    continue
                counts[(w, "C2 uncommon traps")] += 1
                if line.rstrip().endswith("/>"):
                    traps[(w, a.get("reason", "?"), "?")] += 1
                else:
                    open_trap = (w, a.get("reason", "?"), [])
            elif line.startswith("<make_not_entrant thread="):
                a = attrs(line)
                w = window(a)
                if a.get("level") == "4" and w:
                    counts[(w, "C2 methods made not entrant")] += 1
                    not_entrant[methods.get(a.get("compile_id"), "compile " + a.get("compile_id", "?"))] += 1
    if vm_start is None:
        sys.exit(f"{comp_log}: not a HotSpot compilation log")
    (_, s0, s1), (_, r0, r1) = windows
    print(f"start:   {(s1 - s0) / 1000:.2f} s, from {lookback:g} s before the warm-up's summary line to 'meshgate ready'"
          f" ({(s1 - vm_start) / 1000:.2f} s after VM start)")
    print(f"serving: {(min(r1, r0 + 86400000) - r0) / 1000:.2f} s, from 'meshgate ready' to the stop signal")
    print(f"  {'':30s} {'start':>7s} {'serving':>8s} {'total':>7s}")
    for k in ("C2 uncommon traps", "C2 methods made not entrant", "C2 compilations queued"):
        print(f"  {k:30s} {counts[('start', k)]:7d} {counts[('serving', k)]:8d}"
              f" {counts[('start', k)] + counts[('serving', k)]:7d}")
    if traps:
        print(f"uncommon traps in C2 code, both windows, by window, reason and method@bci (top {top}):")
        for (w, reason, site), n in traps.most_common(top):
            print(f"  {n:5d}  {w:8s} {reason:20s} {site}")
    if not_entrant:
        print(f"level-4 methods made not entrant, both windows (top {top}):")
        for m, n in not_entrant.most_common(top):
            print(f"  {n:5d}  {m}")


if __name__ == "__main__":
    main()
