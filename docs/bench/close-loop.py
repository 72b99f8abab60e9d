#!/usr/bin/env python3
"""close1k-like load through a passthrough gateway, and the gateway's CPU per connection in 1-s slices.

    close-loop.py backend PORT HELLO_FILE             the endpoint: reads the hello and 1 KiB, answers
                                                      1 KiB, closes first (as close1k's backend does)
    close-loop.py load GW_PORT HELLO_FILE SECONDS CLIENTS GW_PID
                                                      CLIENTS closed-loop clients (processes); prints one
                                                      line per second from the first connection: slice,
                                                      connections, gateway CPU ms (whole process, every
                                                      thread: event loop, JIT, GC), us per connection

A connection: connect, ClientHello + 1 KiB, read the 1 KiB answer to EOF, close. No TLS handshake
completes (a passthrough gateway only reads the hello), so the gateway's share is what is measured.
"""
import multiprocessing
import os
import selectors
import socket
import sys
import time


def backend(port, hello_file):
    want = os.path.getsize(hello_file) + 1024
    sel = selectors.DefaultSelector()
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.2", port))
    srv.listen(4096)
    srv.setblocking(False)
    sel.register(srv, selectors.EVENT_READ, None)
    got = {}
    answer = b"a" * 1024
    while True:
        for key, _ in sel.select():
            if key.data is None:
                try:
                    c, _ = srv.accept()
                except BlockingIOError:
                    continue
                c.setblocking(False)
                got[c] = 0
                sel.register(c, selectors.EVENT_READ, 1)
                continue
            c = key.fileobj
            try:
                b = c.recv(65536)
            except (BlockingIOError, ConnectionError):
                b = b""
            got[c] += len(b)
            if not b or got[c] >= want:
                sel.unregister(c)
                del got[c]
                if b:
                    try:
                        c.sendall(answer)
                    except OSError:
                        pass
                c.close()


def client(port, hello, until, counter, errors):
    msg = hello + b"r" * 1024
    while time.monotonic() < until:
        try:
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(msg)
            n = 0
            while True:
                b = s.recv(65536)
                if not b:
                    break
                n += len(b)
            s.close()
            if n != 1024:
                raise OSError("short answer")
            with counter.get_lock():
                counter.value += 1
        except OSError:
            with errors.get_lock():
                errors.value += 1
            time.sleep(0.01)


def cpu_ms(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def threads_ms(pid):
    """CPU ms per thread group of the gateway (JIT compilers, GC, event loops, the rest)."""
    groups = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        group = ("JIT C2" if name.startswith("C2 ") else "JIT C1" if name.startswith("C1 ")
                 else "GC" if name.startswith(("GC ", "G1 ")) else "event loop" if "worker" in name
                 else "other")
        groups[group] = groups.get(group, 0) + (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")
    return groups


def load(port, hello_file, seconds, clients, gw_pid):
    hello = open(hello_file, "rb").read()
    counter = multiprocessing.Value("l", 0)
    errors = multiprocessing.Value("l", 0)
    until = time.monotonic() + seconds
    procs = [multiprocessing.Process(target=client, args=(port, hello, until, counter, errors)) for _ in range(clients)]
    c0, t0, g0 = cpu_ms(gw_pid), time.monotonic(), threads_ms(gw_pid)
    for p in procs:
        p.start()
    print("slice  connections  gw_cpu_ms  us_per_conn  errors")
    last_n, last_c, last_e = 0, c0, 0
    i = 0
    while any(p.is_alive() for p in procs):
        i += 1
        time.sleep(max(0.0, t0 + i - time.monotonic()))
        n, c, e = counter.value, cpu_ms(gw_pid), errors.value
        dn, dc = n - last_n, c - last_c
        print(f"{i:5d}  {dn:11d}  {dc:9.0f}  {dc * 1000 / dn if dn else float('nan'):11.0f}  {e - last_e:6d}", flush=True)
        last_n, last_c, last_e = n, c, e
    for p in procs:
        p.join()
    total = counter.value
    g1 = threads_ms(gw_pid)
    print("gateway CPU by thread over the run, us per connection: " + ", ".join(
        f"{k} {(g1[k] - g0.get(k, 0)) * 1000 / total if total else float('nan'):.0f}" for k in sorted(g1)))
    print(f"total  {total:11d}  {last_c - c0:9.0f}  {(last_c - c0) * 1000 / total if total else float('nan'):11.0f}  {errors.value:6d}")


if __name__ == "__main__":
    if sys.argv[1] == "backend":
        backend(int(sys.argv[2]), sys.argv[3])
    else:
        load(int(sys.argv[2]), sys.argv[3], float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]))
