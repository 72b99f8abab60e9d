// @grpc/grpc-js as a real gRPC client for meshgate's end-to-end tests (installed from the npm
// registry into a cache directory by the test; GRPC_JS_DIR names it). One channel = one connection.
//   node grpcjs-peer.js PORT SNI AUTHORITY CERT KEY CA CALLS [SLEEP_MS [PARALLEL]]
// (the endpoint waits SLEEP_MS, default 0, before answering; PARALLEL, default 16, calls in flight)
// Prints "RESULT <json>": replies per endpoint name, XFCC per endpoint, status codes (numbers).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const grpc = require(path.join(process.env.GRPC_JS_DIR, 'node_modules', '@grpc', 'grpc-js'));

const [port, sni, authority, cert, key, ca, calls, sleepArg, parallelArg] = process.argv.slice(2);
const total = Number(calls);
const sleepMs = Number(sleepArg || 0);
const parallel = Number(parallelArg || 16);
const result = { names: {}, xfcc: {}, codes: {}, messages: [] };
const creds = grpc.credentials.createSsl(fs.readFileSync(ca), fs.readFileSync(key), fs.readFileSync(cert),
  // The gateway's certificate names a SPIFFE ID, not the routing name: the chain is checked, the name is not.
  { checkServerIdentity: () => undefined });
const client = new grpc.Client(`127.0.0.1:${port}`, creds,
  { 'grpc.ssl_target_name_override': sni, 'grpc.default_authority': authority });
const raw = (b) => b;

function one() {
  return new Promise((resolve) => {
    const deadline = new Date(Date.now() + 20000);
    client.makeUnaryRequest('/meshgate.peers.Echo/Who', raw, raw, Buffer.from(JSON.stringify({ sleepMs })),
      { deadline }, (err, reply) => {
        const code = err ? err.code : 0;
        result.codes[code] = (result.codes[code] || 0) + 1;
        if (err) {
          if (!result.messages.includes(err.details)) result.messages.push(err.details);
        } else {
          const r = JSON.parse(reply.toString());
          result.names[r.name] = (result.names[r.name] || 0) + 1;
          const seen = result.xfcc[r.name] || (result.xfcc[r.name] = []);
          for (const x of r.xfcc || ['']) if (!seen.includes(x)) seen.push(x);
        }
        resolve();
      });
  });
}

(async () => {
  let next = 0;
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < total) { next++; await one(); }
  }));
  console.log('RESULT ' + JSON.stringify(result));
  client.close();
})();
