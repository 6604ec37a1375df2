'use strict';
// boxship example service: plain node:http, one real dependency (ms); with REDIS_HOST set it reads a Redis
// accessory (redis.js: a few lines of the protocol, no client library).
const VERSION = '1';

const http = require('node:http');
const fs = require('node:fs');
const os = require('node:os');
const ms = require('ms');
const { redis } = require('./redis.js');

const PORT = Number(process.env.PORT || 3000);
const startedAt = Date.now();

// /health fails when HEALTH_FAIL=1 or when the file named by FAIL_FILE exists
// (tests use this to ship a deliberately bad release).
function healthy() {
  if (process.env.HEALTH_FAIL === '1') return false;
  if (process.env.FAIL_FILE && fs.existsSync(process.env.FAIL_FILE)) return false;
  return true;
}

function send(res, status, body) {
  const json = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(json),
  });
  res.end(json);
}

// POST/PUT/DELETE / echo what they got, so a load can tell the app's own answer from anything a proxy sends.
function echo(req, res) {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    send(res, 200, {
      echo: true,
      method: req.method,
      bytes: body.length,
      sha: process.env.BOXSHIP_SHA ?? null,
      instance: process.env.BOXSHIP_INSTANCE ?? null,
    });
  });
}

// POST /jobs with a job id as the body: queued on the Redis accessory's list `jobs`, for a worker role to take.
function queueJob(req, res) {
  if (!process.env.REDIS_HOST) return send(res, 501, { error: 'REDIS_HOST is not set' });
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const job = Buffer.concat(chunks).toString().trim();
    if (!job) return send(res, 400, { error: 'the body is the job id' });
    redis(['LPUSH', 'jobs', job]).then(
      (length) => send(res, 202, { queued: job, length }),
      (err) => send(res, 502, { error: err.message }),
    );
  });
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://localhost');
  if (['POST', 'PUT', 'DELETE'].includes(req.method) && url.pathname === '/') return echo(req, res);
  if (req.method === 'POST' && url.pathname === '/jobs') return queueJob(req, res);
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    return send(res, 405, { error: 'method not allowed' });
  }
  switch (url.pathname) {
    case '/health':
      return healthy() ? send(res, 200, { ok: true }) : send(res, 500, { ok: false });
    case '/':
      return send(res, 200, {
        service: 'hello',
        version: VERSION,
        sha: process.env.BOXSHIP_SHA ?? null,
        instance: process.env.BOXSHIP_INSTANCE ?? null,
        hostname: os.hostname(),
        uptime: ms(Date.now() - startedAt, { long: true }),
      });
    case '/slow': {
      // GET /slow?ms=2000 - a long in-flight request, for graceful-shutdown tests.
      const wait = Math.min(Number(url.searchParams.get('ms')) || 1000, 60000);
      setTimeout(() => send(res, 200, { slow: true, waited: ms(wait) }), wait);
      return;
    }
    case '/migrations':
      // The rows the migration hook (migrate.js) wrote to the Redis accessory (REDIS_HOST).
      if (!process.env.REDIS_HOST) return send(res, 501, { error: 'REDIS_HOST is not set' });
      return redis(['HKEYS', 'migrations']).then(
        (rows) => send(res, 200, { migrations: rows.sort() }),
        (err) => send(res, 502, { error: err.message }),
      );
    case '/jobs/done':
      // The jobs a worker (worker.js, a role) took from the queue and did: { job: "<role> <sha> <container>" }.
      if (!process.env.REDIS_HOST) return send(res, 501, { error: 'REDIS_HOST is not set' });
      return redis(['HGETALL', 'done']).then(
        (flat) => {
          const done = {};
          for (let i = 0; i + 1 < flat.length; i += 2) done[flat[i]] = flat[i + 1];
          send(res, 200, { done });
        },
        (err) => send(res, 502, { error: err.message }),
      );
    default:
      if (url.pathname.startsWith('/kv/')) {
        // GET /kv/<key>: a value from the Redis accessory.
        if (!process.env.REDIS_HOST) return send(res, 501, { error: 'REDIS_HOST is not set' });
        const key = decodeURIComponent(url.pathname.slice(4));
        return redis(['GET', key]).then(
          (value) => send(res, 200, { key, value }),
          (err) => send(res, 502, { error: err.message }),
        );
      }
      return send(res, 404, { error: 'not found' });
  }
});

// GET /ws: a WebSocket (RFC 6455, the few lines a server needs) that sends `tick <version> <n>` every 500 ms, for
// tests of long-lived streams through the proxies. On shutdown the app closes each with 1012 ("service restart"),
// after its drain in DRAIN_MODE=keepalive, so clients know to reconnect.
const sockets = new Set();
server.on('upgrade', (req, socket) => {
  if (new URL(req.url, 'http://x').pathname !== '/ws' || !req.headers['sec-websocket-key']) return socket.destroy();
  const accept = require('node:crypto')
    .createHash('sha1')
    .update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
    .digest('base64');
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  sockets.add(socket);
  let n = 0;
  const tick = setInterval(() => {
    const text = Buffer.from(`tick ${VERSION} ${n++}`);
    socket.write(Buffer.concat([Buffer.from([0x81, text.length]), text]));
  }, 500);
  socket.on('close', () => {
    clearInterval(tick);
    sockets.delete(socket);
  });
  socket.on('error', () => {});
  socket.on('data', () => {}); // client frames (pings) are not needed here
});
function closeSockets() {
  for (const s of sockets) s.end(Buffer.from([0x88, 0x02, 0x03, 0xf4])); // close, code 1012
}

server.listen(PORT, () => {
  console.log(`hello v${VERSION} listening on :${PORT} (sha ${process.env.BOXSHIP_SHA ?? '-'})`);
});

// DRAIN_MODE=keepalive DRAIN_SECONDS=N: behave like many real apps (an express app whose SIGTERM handler waits for
// the proxy's keep-alive sockets to close): stop accepting new connections, keep answering on the open ones, and exit
// only after N seconds. Benchmarks use it to check that a rollout does not wait for every such drain.
function keepaliveDrain(signal) {
  const seconds = Number(process.env.DRAIN_SECONDS || 10);
  console.log(`hello: ${signal}, serving open connections for ${seconds}s, then exiting`);
  server.close();
  setTimeout(() => {
    closeSockets();
    setTimeout(() => process.exit(0), 200);
  }, seconds * 1000).unref();
  // server.close() alone lets the process exit once idle sockets are gone; hold it for the full N seconds.
  setInterval(() => {}, 1000);
}

// Graceful shutdown: stop accepting, let in-flight requests finish, then exit.
let stopping = false;
function shutdown(signal) {
  if (stopping) return;
  stopping = true;
  if (process.env.DRAIN_MODE === 'keepalive') return keepaliveDrain(signal);
  console.log(`hello: ${signal}, draining after ${ms(Date.now() - startedAt)} up`);
  closeSockets();
  server.close(() => {
    console.log('hello: all connections closed, exiting');
    process.exit(0);
  });
  server.closeIdleConnections();
  // Keep-alive connections become idle once their request finishes; close them then.
  const sweep = setInterval(() => server.closeIdleConnections(), 100);
  sweep.unref();
  setTimeout(() => {
    console.error('hello: drain timed out, exiting');
    process.exit(1);
  }, Number(process.env.SHUTDOWN_TIMEOUT_MS || 10000)).unref();
}
// STOP_ON=SIGINT (or another signal): like apps that stop cleanly only on that one (nginx on SIGQUIT, some Node and
// Go setups on SIGINT); SIGTERM and SIGINT otherwise are logged and ignored, so only docker's SIGKILL would end it.
const STOP_ON = process.env.STOP_ON;
for (const signal of new Set(['SIGTERM', 'SIGINT', ...(STOP_ON ? [STOP_ON] : [])])) {
  process.on(signal, () => {
    if (STOP_ON && signal !== STOP_ON) return console.log(`hello: ${signal} ignored (STOP_ON=${STOP_ON})`);
    shutdown(signal);
  });
}
