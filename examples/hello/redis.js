'use strict';
// A few lines of Redis protocol (RESP) over a socket, so the example needs no client library. The app uses it when
// REDIS_HOST is set (an accessory on the service network, e.g. REDIS_HOST=cache); run directly it is a tiny CLI:
//   node redis.js SET greeting hello      -> "OK"
const net = require('node:net');

// One reply from the start of buf: [value, rest] or undefined while incomplete. Errors become Error values.
function parse(buf) {
  const end = buf.indexOf('\r\n');
  if (end < 0) return undefined;
  const type = String.fromCharCode(buf[0]);
  const head = buf.subarray(1, end).toString();
  const rest = buf.subarray(end + 2);
  if (type === '+') return [head, rest];
  if (type === '-') return [new Error(head), rest];
  if (type === ':') return [Number(head), rest];
  if (type === '$') {
    const n = Number(head);
    if (n < 0) return [null, rest];
    if (rest.length < n + 2) return undefined;
    return [rest.subarray(0, n).toString(), rest.subarray(n + 2)];
  }
  if (type === '*') {
    const n = Number(head);
    if (n < 0) return [null, rest];
    const items = [];
    let left = rest;
    for (let i = 0; i < n; i++) {
      const r = parse(left);
      if (!r) return undefined;
      items.push(r[0]);
      left = r[1];
    }
    return [items, left];
  }
  throw new Error(`unexpected reply type ${JSON.stringify(type)}`);
}

// Sends one command (a list of words) and resolves with its reply; a Redis error rejects.
function redis(words, { host = process.env.REDIS_HOST, port = Number(process.env.REDIS_PORT || 6379), timeoutMs = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    if (!host) return reject(new Error('REDIS_HOST is not set'));
    const socket = net.connect({ host, port });
    let buf = Buffer.alloc(0);
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no answer from ${host}:${port} in ${timeoutMs} ms`)));
    socket.on('error', reject);
    socket.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      const r = parse(buf);
      if (!r) return;
      socket.end();
      if (r[0] instanceof Error) reject(r[0]);
      else resolve(r[0]);
    });
    const args = words.map(String);
    socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
  });
}

module.exports = { redis };

if (require.main === module) {
  redis(process.argv.slice(2)).then(
    (reply) => console.log(JSON.stringify(reply)),
    (err) => {
      console.error(`redis: ${err.message}`);
      process.exit(1);
    },
  );
}
