// TLS caller for the interop matrix: node client.js HOST PORT SNI CERT KEY VERSION(1.2|1.3)
// Presents CERT (every certificate in the file is sent) with KEY, sends one HTTP/1.1 request with
// Connection: close and prints the response. The gateway's certificate is not checked.
'use strict';
const fs = require('fs');
const tls = require('tls');
const [host, port, sni, cert, key, version] = process.argv.slice(2);
const v = version === '1.2' ? 'TLSv1.2' : 'TLSv1.3';
const socket = tls.connect({
  host, port: Number(port), servername: sni, cert: fs.readFileSync(cert), key: fs.readFileSync(key),
  minVersion: v, maxVersion: v, rejectUnauthorized: false,
}, () => {
  console.log('negotiated ' + socket.getProtocol());
  socket.write('GET /interop HTTP/1.1\r\nHost: ' + sni + '\r\nConnection: close\r\n\r\n');
});
let out = '';
socket.setTimeout(15000, () => { console.error('timeout'); process.exit(1); });
socket.on('data', (d) => { out += d.toString('latin1'); });
socket.on('end', () => { process.stdout.write(out); process.exit(0); });
socket.on('error', (e) => { process.stdout.write(out); console.error('error: ' + e.message); process.exit(1); });
