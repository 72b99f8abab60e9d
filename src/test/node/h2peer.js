// A real HTTP/2 client for meshgate's end-to-end tests: Node's built-in http2 module, ONE session
// (one TLS connection with a client certificate) carrying many concurrent streams.
//   node h2peer.js grpc PORT SNI AUTHORITY CERT KEY CA CALLS [SLEEP_MS [PARALLEL]] -> gRPC unary calls (application/grpc+raw);
//                                                      the endpoint waits SLEEP_MS (0) before answering, PARALLEL (16) in flight
//   node h2peer.js get  PORT SNI AUTHORITY CERT KEY CA CALLS  -> plain GET / requests
// Prints "RESULT <json>": replies per endpoint name, XFCC per endpoint, grpc-status / :status counts.
'use strict';
const http2 = require('node:http2');
const fs = require('node:fs');

const [mode, port, sni, authority, cert, key, ca, calls, sleepArg, parallelArg] = process.argv.slice(2);
const total = Number(calls);
const sleepMs = Number(sleepArg || 0);
const parallel = Number(parallelArg || 16);
const result = { sessions: 0, names: {}, xfcc: {}, statuses: {}, errors: [] };

const session = http2.connect(`https://127.0.0.1:${port}`, {
  servername: sni,
  cert: fs.readFileSync(cert), key: fs.readFileSync(key), ca: fs.readFileSync(ca),
  // The gateway's certificate names a SPIFFE ID, not the routing name: the chain is checked, the name is not.
  checkServerIdentity: () => undefined,
});
session.on('connect', () => { result.sessions++; });
session.on('error', (e) => { result.errors.push('session: ' + e.message); });

function grpcFrame(json) {
  const body = Buffer.from(JSON.stringify(json));
  const head = Buffer.alloc(5);
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

function record(buf, status) {
  result.statuses[status] = (result.statuses[status] || 0) + 1;
  if (buf.length === 0) return;
  const r = JSON.parse(buf.toString());
  result.names[r.name] = (result.names[r.name] || 0) + 1;
  const seen = result.xfcc[r.name] || (result.xfcc[r.name] = []);
  for (const x of r.xfcc || ['']) if (!seen.includes(x)) seen.push(x);
}

function one() {
  return new Promise((resolve) => {
    const grpc = mode === 'grpc';
    const req = session.request(grpc
      ? { ':method': 'POST', ':path': '/meshgate.peers.Echo/Who', ':authority': authority,
          'content-type': 'application/grpc+raw', te: 'trailers' }
      : { ':method': 'GET', ':path': '/', ':authority': authority });
    req.setTimeout(20000, () => req.close(http2.constants.NGHTTP2_CANCEL));
    const chunks = [];
    let status = 'none';
    req.on('response', (h) => {
      status = grpc ? (h['grpc-status'] !== undefined ? 'grpc-' + h['grpc-status'] : status) : String(h[':status']);
    });
    req.on('trailers', (t) => { if (grpc) status = 'grpc-' + t['grpc-status']; });
    req.on('data', (c) => chunks.push(c));
    req.on('error', (e) => { result.errors.push(e.message); });
    req.on('close', () => {
      try {
        const all = Buffer.concat(chunks);
        record(grpc ? all.subarray(5) : all, status);
      } catch (e) {
        result.errors.push('reply: ' + e.message);
      }
      resolve();
    });
    req.end(grpc ? grpcFrame({ sleepMs }) : undefined);
  });
}

(async () => {
  let next = 0;
  const workers = Array.from({ length: parallel }, async () => {
    while (next < total) { next++; await one(); }
  });
  await Promise.all(workers);
  console.log('RESULT ' + JSON.stringify(result));
  session.close();
})();
