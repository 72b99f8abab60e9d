#!/usr/bin/env python3
"""Writes a real TLS ClientHello (the first flight of Python's TLS client) for the SNI given as
the only argument to stdout: what a passthrough gateway reads before it routes a connection."""
import ssl
import sys

ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
tls = ctx.wrap_bio(incoming, outgoing, server_hostname=sys.argv[1])
try:
    tls.do_handshake()
except ssl.SSLWantReadError:
    pass
sys.stdout.buffer.write(outgoing.read())
