/**
 * The proxy with real containers on this machine's Docker: a user-defined bridge network, the boxship-proxy image
 * (built here when missing) published on 127.0.0.1, and tiny node:http apps as instances. Self-contained: it needs
 * neither the simulated hosts nor SSH; the remote commands of src/proxy/commands.ts are run locally.
 *
 * It checks the design the rollout relies on: a Caddy config that never changes during a swap, upstreams that are
 * fixed Docker network aliases (<service>-<n>-blue / -green), 503 + Retry-After (never 502/504) when nothing answers,
 * and that `docker rename` of the incoming container keeps its alias.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Command } from '../../src/hosts/command.js';
import { PROXY_HEALTH_PATH } from '../../src/proxy/caddy-answers.js';
import { caddyConfigText, type CaddyConfigInput, type Colour, upstreamName } from '../../src/proxy/caddy-config.js';
import {
  applyProxyMode,
  parseUpstreams,
  probeUpstream,
  proxyContainerName,
  proxyUpstreams,
  reloadProxy,
  setLiveColour,
  startProxy,
  writeProxyConfig,
} from '../../src/proxy/commands.js';
import { EDGE_CONFIG_FILES, type EdgeSyntax, edgeConfigText } from '../../src/proxy/edge-config.js';
import { REPO } from '../helpers/paths.js';

const execFileP = promisify(execFile);
/** The 20.10 client, as in scripts/test-hosts.sh: its BuildKit builds need no buildx plugin. */
const DOCKER = process.env.DOCKER ?? (existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker');

/** BOXSHIP_TEST_PROXY_IMAGE=boxship-proxy:caddy-2.11.4 runs the same checks against current Caddy. */
const IMAGE = process.env.BOXSHIP_TEST_PROXY_IMAGE ?? 'boxship-proxy:caddy-2.6.2';
const DOCKERFILE_DIR = IMAGE.endsWith('caddy-2.11.4') ? 'proxy-caddy-2.11' : 'proxy';
const APP_IMAGE = 'node:20-bookworm-slim';
const ID = `${process.pid.toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const SERVICE = `bxpt${ID}`;
const NETWORK = `${SERVICE}-net`;
const PROXY = proxyContainerName(SERVICE);
const LIVE = `${SERVICE}-1`;
const NEXT = `${SERVICE}-1.next`;
const BLUE = upstreamName(SERVICE, 1, 'blue');
const GREEN = upstreamName(SERVICE, 1, 'green');

/**
 * The instance: answers its NAME, /health 200. On SIGTERM it fails /health at once (so Caddy's active check takes it
 * out), keeps serving for DRAIN_MS, then stops listening and exits: what a well-behaved app does.
 */
const APP = `
const http = require('http');
let draining = false, closed = false;
const server = http.createServer((req, res) => {
  if (closed) res.setHeader('connection', 'close');
  if (req.url === '/xff') { res.end(JSON.stringify([req.headers['x-forwarded-for'], req.headers['x-forwarded-proto'], req.headers['x-forwarded-host']])); return; }
  if (req.url === '/health') { res.writeHead(draining ? 503 : 200, { 'content-type': 'text/plain' }); res.end(draining ? 'draining' : 'ok'); return; }
  req.resume();
  req.on('end', () => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end(process.env.NAME + '\\n'); });
});
server.keepAliveTimeout = 65000;
server.listen(3000);
process.on('SIGTERM', () => {
  draining = true;
  setTimeout(() => {
    closed = true;
    server.close(() => process.exit(0));
    server.closeIdleConnections();
    setTimeout(() => process.exit(0), 2000).unref();
  }, Number(process.env.DRAIN_MS || 1000));
});
`;

const containers = new Set<string>();
let hostDir = '';
let port = 0;

async function docker(...args: string[]): Promise<string> {
  const { stdout } = await execFileP(DOCKER, args, { encoding: 'utf8', timeout: 120_000 });
  return stdout.trim();
}

/** Runs a boxship remote command here, as the SSH executor would on a host. */
function run(cmd: Command, stdin?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd.argv[0]!, cmd.argv.slice(1), { cwd: tmpdir(), stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd.why}: exit ${code}: ${err}`))));
    // A command that reads no stdin may exit before the write: that EPIPE is not its failure (its exit code says).
    child.stdin.on('error', () => undefined);
    child.stdin.end(stdin ?? '');
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

function configInput(): CaddyConfigInput {
  return {
    service: SERVICE,
    instances: 1,
    appPort: 3000,
    healthPath: '/health',
    healthIntervalMs: 500,
    healthTimeoutMs: 2000,
    retryAfterSeconds: 7,
    backoffHeader: 'X-Backoff',
  };
}

async function writeConfig(input: CaddyConfigInput = configInput()): Promise<void> {
  await run(writeProxyConfig(hostDir), caddyConfigText(input));
  for (const syntax of Object.keys(EDGE_CONFIG_FILES) as EdgeSyntax[])
    await run(writeProxyConfig(hostDir, EDGE_CONFIG_FILES[syntax]), edgeConfigText(input, syntax));
}

/** What the hand-over does first: the slot's traffic goes to `colour` from the next request on. */
async function route(colour: Colour): Promise<void> {
  await run(setLiveColour(hostDir, 1, colour));
}

async function startApp(name: string, alias: string, label: string): Promise<void> {
  containers.add(name);
  await docker('run', '-d', '--name', name, '--network', NETWORK, '--network-alias', alias, '-e', `NAME=${label}`, APP_IMAGE, 'node', '-e', APP);
}

/** Until the alias answers /health from inside the proxy container (bounded). */
async function waitForProbe(alias: string, timeoutMs = 20_000): Promise<number> {
  const start = Date.now();
  for (;;) {
    try {
      await run(probeUpstream(SERVICE, alias, 3000, '/health', 1000));
      return Date.now() - start;
    } catch (e) {
      if (Date.now() - start > timeoutMs) throw e;
      await sleep(100);
    }
  }
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  ms: number;
}

/** A 0.5 KB JSON body, as a POST load sends. */
const BODY = JSON.stringify({ order: 'x'.repeat(480) });

function get(path: string, headers: Record<string, string> = {}, agent?: http.Agent, body?: string): Promise<Reply> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const method = body === undefined ? 'GET' : 'POST';
    const all = body === undefined ? headers : { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) };
    const req = http.request({ method, host: '127.0.0.1', port, path, headers: all, agent: agent ?? false, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, ms: Date.now() - t0 }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

/** Until a GET through the proxy answers 200 (bounded). */
async function waitFor200(timeoutMs = 20_000): Promise<Reply> {
  const start = Date.now();
  let last: unknown;
  while (Date.now() - start < timeoutMs) {
    try {
      const r = await get('/');
      if (r.status === 200) return r;
      last = r.status;
    } catch (e) {
      last = e;
    }
    await sleep(200);
  }
  throw new Error(`no 200 through the proxy within ${timeoutMs} ms (last: ${String(last)})`);
}

interface LoadStats {
  requests: number;
  ok: number;
  non200: Record<string, number>;
  failures: string[];
  servedBy: Record<string, number>;
  maxMs: number;
  posts: number;
}

/**
 * Keep-alive GET load through the proxy: 4 clients sharing a keep-alive agent, looping until `during` resolves (and
 * `tailMs` more), never longer than `capMs`.
 */
async function underLoad(during: () => Promise<void>, opts: { tailMs?: number; capMs?: number } = {}): Promise<LoadStats> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const stats: LoadStats = { requests: 0, ok: 0, non200: {}, failures: [], servedBy: {}, maxMs: 0, posts: 0 };
  let stop = false;
  const cap = setTimeout(() => (stop = true), opts.capMs ?? 15_000);
  // Half the clients POST a JSON body: a request with a body is not retried on another upstream the way a GET is.
  const client = async (_: unknown, i: number) => {
    while (!stop) {
      stats.requests++;
      const post = i % 2 === 1;
      if (post) stats.posts++;
      try {
        const r = await get('/', {}, agent, post ? BODY : undefined);
        stats.maxMs = Math.max(stats.maxMs, r.ms);
        if (r.status === 200) {
          stats.ok++;
          const who = r.body.trim();
          stats.servedBy[who] = (stats.servedBy[who] ?? 0) + 1;
        } else stats.non200[r.status] = (stats.non200[r.status] ?? 0) + 1;
      } catch (e) {
        stats.failures.push(String(e));
      }
    }
  };
  const clients = Array.from({ length: 4 }, client);
  try {
    await sleep(500);
    await during();
    await sleep(opts.tailMs ?? 1500);
  } finally {
    stop = true;
    clearTimeout(cap);
    await Promise.all(clients);
    agent.destroy();
  }
  return stats;
}

async function aliasesOf(container: string): Promise<string[]> {
  const out = await docker('container', 'inspect', '--format', `{{json (index .NetworkSettings.Networks "${NETWORK}").Aliases}}`, container);
  return JSON.parse(out) as string[];
}

beforeAll(async () => {
  try {
    await docker('image', 'inspect', '--format', '{{.Id}}', IMAGE);
  } catch {
    await execFileP(DOCKER, ['build', '-q', '--build-arg', 'BASE_IMAGE=debian:bookworm-slim', '-t', IMAGE, join(REPO, 'dockerfiles', DOCKERFILE_DIR)], {
      env: { ...process.env, DOCKER_BUILDKIT: '1' },
      timeout: 280_000,
    });
  }
  hostDir = join(mkdtempSync(join(tmpdir(), 'boxship-proxy-test-')), 'proxy');
  port = await freePort();
  await docker('network', 'create', NETWORK);
  await writeConfig();
  containers.add(PROXY);
  await run(startProxy({ service: SERVICE, network: NETWORK, image: IMAGE, bind: '127.0.0.1', port, hostDir }));
  // The proxy answers its own health route as soon as it runs.
  for (let i = 0; ; i++) {
    try {
      if ((await get(PROXY_HEALTH_PATH)).status === 200) break;
    } catch (e) {
      if (i > 50) throw e;
    }
    await sleep(100);
  }
});

afterAll(async () => {
  if (process.env.PROXY_LOGS) console.log(await execFileP(DOCKER, ['logs', PROXY], { encoding: 'utf8' }).then((r) => r.stdout + r.stderr, String));
  for (const c of containers) await docker('rm', '-f', c).catch(() => undefined);
  await docker('network', 'rm', NETWORK).catch(() => undefined);
  if (hostDir) rmSync(join(hostDir, '..'), { recursive: true, force: true });
});

describe(`proxy (${IMAGE}) with real containers`, () => {
  it('answers 503 with Retry-After and the back-off header when no instance runs, never 502/504', async () => {
    const json = await get('/anything', { Accept: 'application/json' });
    expect(json.status).toBe(503);
    expect(json.headers['retry-after']).toBe('7');
    expect(json.headers['x-backoff']).toBe('7');
    expect(json.headers['content-type']).toBe('application/json');
    expect(JSON.parse(json.body)).toEqual({ error: 'service unavailable', retry_after: 7 });
    // Caddy keeps trying for try_duration (3 s) before it gives up.
    expect(json.ms).toBeLessThan(8000);

    const text = await get('/anything', { Accept: 'text/html' });
    expect(text.status).toBe(503);
    expect(text.headers['retry-after']).toBe('7');
    expect(text.headers['x-backoff']).toBe('7');
    expect(text.headers['content-type']).toMatch(/^text\/plain/);
    expect(text.body).toBe('service unavailable\n');

    expect((await get(PROXY_HEALTH_PATH)).status).toBe(200);
  });

  it('serves through the blue alias once an instance runs', async () => {
    await startApp(LIVE, BLUE, 'blue');
    await waitForProbe(BLUE);
    const r = await waitFor200();
    expect(r.body).toBe('blue\n');

    // What Caddy 2.6.2's admin API says about the upstreams: counters only, no health.
    const ups = parseUpstreams(await run(proxyUpstreams(SERVICE)));
    expect(ups.map((u) => u.address)).toEqual([`${BLUE}:3000`, `${GREEN}:3000`]);
    const raw = JSON.parse(await run(proxyUpstreams(SERVICE))) as Record<string, unknown>[];
    expect(Object.keys(raw[0]!).sort()).toEqual(['address', 'fails', 'num_requests']);
  });

  it('loses no keep-alive client request across router reloads (config changes) under GET and POST load', async () => {
    // A config change (here the health interval) is a full reload of the router; the edge in front keeps every client
    // connection (edge-config.ts). One Caddy alone lost ~3 requests per reload under this kind of load.
    const reloads = 16;
    const stats = await underLoad(
      async () => {
        for (let i = 0; i < reloads; i++) {
          await writeConfig({ ...configInput(), healthIntervalMs: i % 2 === 0 ? 600 : 500 });
          await run(reloadProxy(SERVICE));
          await sleep(100 + (i % 4) * 60);
        }
        await writeConfig();
        await run(reloadProxy(SERVICE));
      },
      { tailMs: 500, capMs: 40_000 },
    );
    console.log(`${reloads + 1} router reloads under keep-alive load:`, JSON.stringify(stats));
    expect(stats.posts).toBeGreaterThan(20);
    expect(stats.failures).toEqual([]);
    // Rarely (about one run in five, 1 to 3 answers) a request is answered the designed 503 + Retry-After while the
    // router swaps configs; never a reset, a 502 or a cut answer.
    expect(Object.keys(stats.non200).filter((s) => s !== '503')).toEqual([]);
    expect(stats.non200['503'] ?? 0).toBeLessThanOrEqual(Math.ceil(stats.requests / 1000));
    // Every answer whole: a body cut between the edge and the router shows up as an empty name.
    expect(stats.servedBy).toEqual({ blue: stats.ok });
    // The app sees the client's address (as the edge saw it), not the edge's, and the X-Forwarded-* headers it sent.
    const [xff, proto, host] = JSON.parse((await get('/xff')).body) as string[];
    expect(xff).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(xff).not.toBe('127.0.0.1');
    expect([proto, host]).toEqual(['http', `127.0.0.1:${port}`]);
  });

  it('swaps blue -> green under keep-alive GET and POST load with no failed request', async () => {
    const stats = await underLoad(async () => {
      await startApp(NEXT, GREEN, 'green');
      await waitForProbe(GREEN);
      // One health interval + timeout, so that Caddy's active check has seen green answer.
      await sleep(1000);
      await route('green');
      await docker('stop', LIVE);
    });
    expect(stats.posts).toBeGreaterThan(50);
    console.log('swap blue -> green:', JSON.stringify(stats));
    expect(stats.failures).toEqual([]);
    expect(stats.non200).toEqual({});
    expect(stats.ok).toBe(stats.requests);
    expect(stats.requests).toBeGreaterThan(100);
    expect(stats.servedBy.green).toBeGreaterThan(0);
    expect((await get('/')).body).toBe('green\n');
  });

  it('keeps the alias and the traffic through `docker rename` of the incoming container', async () => {
    const stats = await underLoad(async () => {
      await docker('rm', LIVE);
      containers.delete(LIVE);
      await docker('rename', NEXT, LIVE);
      containers.delete(NEXT);
      containers.add(LIVE);
    });
    console.log('rm + rename under load:', JSON.stringify(stats));
    expect(stats.failures).toEqual([]);
    expect(stats.non200).toEqual({});
    expect(stats.servedBy).toEqual({ green: stats.ok });

    expect(await aliasesOf(LIVE)).toContain(GREEN);
    await waitForProbe(GREEN, 2000);

    // The renamed container is now the live one: the next swap (green -> blue) stops it by its new name.
    const back = await underLoad(async () => {
      await startApp(NEXT, BLUE, 'blue2');
      await waitForProbe(BLUE);
      await sleep(1000);
      await route('blue');
      await docker('stop', LIVE);
      await docker('rm', LIVE);
      containers.delete(LIVE);
      await docker('rename', NEXT, LIVE);
      containers.delete(NEXT);
      containers.add(LIVE);
    });
    console.log('swap green -> blue with rename:', JSON.stringify(back));
    expect(back.failures).toEqual([]);
    expect(back.non200).toEqual({});
    expect(back.servedBy.blue2).toBeGreaterThan(0);
    expect(await aliasesOf(LIVE)).toContain(BLUE);

    // The alias also survives a restart of the renamed container.
    await docker('restart', LIVE);
    await waitForProbe(BLUE);
    expect((await waitFor200()).body).toBe('blue2\n');
  });

  it('loses no GET when the live instance dies abruptly (docker kill) after the other colour is up', async () => {
    const stats = await underLoad(async () => {
      await startApp(NEXT, GREEN, 'green3');
      await waitForProbe(GREEN);
      await sleep(1000);
      await route('green');
      // A request sent to blue just before the route changed is still in flight there; a swap lets it finish (the
      // drain), and this test stands for that finished drain with half a second, then kills: from here on no request
      // may meet blue, which is what the test is about.
      await sleep(500);
      // SIGKILL: no drain, but the slot's traffic already goes to green, so no request meets it.
      await docker('kill', LIVE);
      await docker('rm', LIVE);
      containers.delete(LIVE);
      await docker('rename', NEXT, LIVE);
      containers.delete(NEXT);
      containers.add(LIVE);
    });
    console.log('kill blue2, green3 up:', JSON.stringify(stats));
    expect(stats.failures).toEqual([]);
    expect(stats.non200).toEqual({});
    expect(stats.servedBy.green3).toBeGreaterThan(0);
  });

  it('answers 503 with the message in maintenance without a reload (no keep-alive client reset), and after a restart', async () => {
    const before = await docker('exec', PROXY, 'wget', '-q', '-O', '-', '-T', '2', 'http://localhost:2019/config/');
    const message = 'Upgrading the database {until noon} "soon"\nline 2';
    const stats = await underLoad(
      async () => {
        await run(applyProxyMode(hostDir, { kind: 'maintenance', retryAfterSeconds: 60, message }));
        await sleep(1000);
        await run(applyProxyMode(hostDir, { kind: 'serving' }));
        await sleep(500);
        await run(applyProxyMode(hostDir, { kind: 'maintenance', retryAfterSeconds: 60, message }));
      },
      { tailMs: 500 },
    );
    console.log('maintenance on/off/on under keep-alive load:', JSON.stringify(stats));
    // Only designed answers: 200 while serving, 503 while in maintenance; no connection error at all.
    expect(stats.failures).toEqual([]);
    expect(Object.keys(stats.non200)).toEqual(['503']);
    expect(stats.ok).toBeGreaterThan(0);
    expect(await docker('exec', PROXY, 'wget', '-q', '-O', '-', '-T', '2', 'http://localhost:2019/config/')).toBe(before);

    const check = async () => {
      const text = await get('/');
      expect(text.status).toBe(503);
      expect(text.headers['retry-after']).toBe('60');
      expect(text.headers['x-backoff']).toBe('60');
      expect(text.headers['content-type']).toMatch(/^text\/plain/);
      expect(text.body).toBe(`${message}\n`);
      const json = await get('/api/x', { Accept: 'application/json' });
      expect(json.status).toBe(503);
      expect(json.headers['content-type']).toBe('application/json');
      expect(json.headers['retry-after']).toBe('60');
      expect(JSON.parse(json.body)).toEqual({ error: 'maintenance', message, retry_after: 60 });
      const post = await get('/', {}, undefined, BODY);
      expect(post.status).toBe(503);
      const health = await get(PROXY_HEALTH_PATH);
      expect(health.status).toBe(200);
      expect(health.body).toBe('ok\n');
    };
    await check();
    await docker('restart', PROXY);
    for (let i = 0; ; i++) {
      const ok = await get(PROXY_HEALTH_PATH).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) break;
      if (i > 50) throw new Error('the proxy did not come back after a restart');
      await sleep(100);
    }
    await check();

    await run(applyProxyMode(hostDir, { kind: 'serving' }));
    expect((await waitFor200()).body).toBe('green3\n');
  });

  it('answers a maintenance message with template actions in it verbatim, never running them', async () => {
    const message = '{{env "HOME"}} {{.Req.Host}} {{{x';
    await run(applyProxyMode(hostDir, { kind: 'maintenance', retryAfterSeconds: 9, message }));
    try {
      const text = await get('/');
      expect(text.status).toBe(503);
      expect(text.body).toBe(`${message}\n`);
      const json = await get('/api/x', { Accept: 'application/json' });
      expect(JSON.parse(json.body)).toEqual({ error: 'maintenance', message, retry_after: 9 });
    } finally {
      await run(applyProxyMode(hostDir, { kind: 'serving' }));
    }
    expect((await waitFor200()).body).toBe('green3\n');
  });
});
