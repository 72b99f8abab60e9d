"""TLS caller for the interop matrix: python3 client.py HOST PORT SNI CERT KEY VERSION(1.2|1.3).

Presents CERT (leaf first, every certificate in the file is sent) with KEY, sends one HTTP/1.1
request with Connection: close and prints the response. The gateway's certificate is not checked
(its name is not the routing SNI); the server side checks the caller.
"""
import socket
import ssl
import sys

host, port, sni, cert, key, version = sys.argv[1:7]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
v = ssl.TLSVersion.TLSv1_2 if version == "1.2" else ssl.TLSVersion.TLSv1_3
ctx.minimum_version = v
ctx.maximum_version = v
ctx.load_cert_chain(cert, key)
with socket.create_connection((host, int(port)), timeout=15) as raw:
    with ctx.wrap_socket(raw, server_hostname=sni) as tls:
        tls.sendall(("GET /interop HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % sni).encode())
        out = b""
        while True:
            chunk = tls.recv(65536)
            if not chunk:
                break
            out += chunk
        print("negotiated", tls.version())
        sys.stdout.write(out.decode("latin-1"))
