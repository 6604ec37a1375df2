/**
 * A rollout that changes app.port: the old instances stay served on the old port until they are replaced, under a
 * GET + POST load, and a failed rollout puts the proxy back on what the old release needs.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeExampleApp, type ExampleApp } from '../helpers/example.js';
import { type LoadStats, startLoad } from '../helpers/load.js';
import { HOSTS } from '../helpers/paths.js';
import { boxship, onHost, wipeHost, type RunResult } from '../helpers/run.js';

const ok = (r: RunResult) => expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
const ports = HOSTS.map((h) => h.httpPort);

/** The ports the proxy dials on a host, and the settings it records. */
async function proxyOn(container: string) {
  const config = await onHost(container, 'cat /root/.boxship/hello/proxy/caddy.json');
  const dialPorts = [...new Set([...config.matchAll(/"dial": "hello-\d-(?:blue|green):(\d+)"/g)].map((m) => Number(m[1])))].sort();
  const settings = JSON.parse(await onHost(container, 'cat /root/.boxship/hello/proxy/settings.json')) as { steady: { appPort: number }; transition?: unknown };
  return { dialPorts, steady: settings.steady.appPort, transition: settings.transition !== undefined };
}

function setPort(app: ExampleApp, port: number): void {
  const file = join(app.dir, 'boxship.yml');
  writeFileSync(file, readFileSync(file, 'utf8').replace(/^( {2}port: )\d+$/m, `$1${port}`));
}

/**
 * Changing these settings reloads the proxy's router twice (when the change begins and when it settles). The edge in
 * front keeps every client connection through a reload (src/proxy/edge-config.ts), so nothing fails: every answer is
 * the app's 200 or, rarely, the designed 503 + Retry-After; no reset, no 5xx without Retry-After.
 */
function nothingFailed(stats: LoadStats): void {
  // `failures` lists the designed 503s to POSTs too (as post_not_ok); anything else in it is a failure.
  expect(stats.failures.filter((f) => !/ HTTP 503 service unavailable/.test(f))).toEqual([]);
  expect(stats.failed, JSON.stringify(stats.failures)).toBe(0);
  expect(stats.connectionErrors).toBe(0);
  expect(stats.backoff503).toBeLessThanOrEqual(Math.ceil(stats.requests / 1000));
}

/** Sets proxy.retry_after in the app's boxship.yml (under the proxy: block the helper may have written). */
function setRetryAfter(app: ExampleApp, seconds: number): void {
  const file = join(app.dir, 'boxship.yml');
  const text = readFileSync(file, 'utf8').replace(/^ {2}retry_after: \d+\n/m, '');
  writeFileSync(file, /^proxy:$/m.test(text) ? text.replace(/^proxy:$/m, `proxy:\n  retry_after: ${seconds}`) : `${text}proxy:\n  retry_after: ${seconds}\n`);
}

/** The config a running Caddy of the proxy container serves, from its admin API (router 2019, edge 2020). */
async function runningConfig(container: string, adminPort: number): Promise<string> {
  return onHost(container, `docker exec hello-proxy wget -q -O - http://localhost:${adminPort}/config/`);
}

async function underLoad(app: ExampleApp, args: string[]) {
  const load = startLoad(ports, { clients: 3, maxSeconds: 240, post: true });
  await new Promise((r) => setTimeout(r, 500));
  const result = await boxship(args, { cwd: app.dir });
  await new Promise((r) => setTimeout(r, 500));
  return { result, stats: await load.stop() };
}

describe('a rollout that changes app.port', () => {
  let app: ExampleApp;

  beforeAll(async () => {
    await Promise.all(HOSTS.map((h) => wipeHost(h.container)));
    app = makeExampleApp();
    app.writeConfig({ instances: 2 });
    app.bumpVersion('1');
    ok(await boxship(['release'], { cwd: app.dir }));
    ok(await boxship(['rollout'], { cwd: app.dir }));
  });

  it('keeps the old instances served on the old port until each is replaced, then only the new port', async () => {
    for (const h of HOSTS) expect(await proxyOn(h.container)).toEqual({ dialPorts: [3000], steady: 3000, transition: false });
    setPort(app, 3100);
    app.bumpVersion('2');
    ok(await boxship(['release'], { cwd: app.dir }));
    const { result, stats } = await underLoad(app, ['rollout']);
    ok(result);
    nothingFailed(stats);
    expect(stats.postRequests).toBeGreaterThan(50);
    expect(stats.versions['2']).toBeGreaterThan(0);
    for (const h of HOSTS) expect(await proxyOn(h.container)).toEqual({ dialPorts: [3100], steady: 3100, transition: false });
  });

  it('puts the proxy back on the old port when the rollout fails, and the old release keeps serving', async () => {
    const file = join(app.dir, 'server.js');
    const good = readFileSync(file, 'utf8');
    setPort(app, 3200);
    writeFileSync(file, good.replace(/const VERSION = '[^']*';/, "const VERSION = 'bad';\nprocess.env.HEALTH_FAIL = '1';"));
    app.commit('a port change in a release whose health check fails');
    ok(await boxship(['release'], { cwd: app.dir }));
    // boxship.yml says port 3200; the newest release (the bad one) fails its health check and everything is put back.
    const { result, stats } = await underLoad(app, ['rollout']);
    writeFileSync(file, good);
    setPort(app, 3100);
    app.commit('back to good');
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toContain('Rolled back');
    nothingFailed(stats);
    expect(stats.versions.bad ?? 0).toBe(0);
    for (const h of HOSTS) expect(await proxyOn(h.container)).toEqual({ dialPorts: [3100], steady: 3100, transition: false });
    const res = await fetch(`http://127.0.0.1:${ports[0]}/`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { version: string }).version).toBe('2');
  });

  it('reloads the edge as well when proxy.retry_after changes: both Caddy processes serve the new answer', async () => {
    // Not under load on purpose: reloading the edge closes idle keep-alive client connections like any Caddy reload
    // (a "socket hang up" seen here); only proxy.retry_after and proxy.backoff_header change the edge.
    for (const h of HOSTS) expect(await runningConfig(h.container, 2020)).toContain('"Retry-After":["5"]');
    setRetryAfter(app, 9);
    const result = await boxship(['setup'], { cwd: app.dir });
    ok(result);
    expect(result.stderr + result.stdout).toContain('reloading the proxy edge');
    for (const h of HOSTS) {
      expect(await runningConfig(h.container, 2020)).toContain('"Retry-After":["9"]');
      expect(await runningConfig(h.container, 2019)).toContain('"Retry-After":["9"]');
    }
    // Nothing changed since: the next setup reloads neither.
    const again = await boxship(['setup'], { cwd: app.dir });
    ok(again);
    expect(again.stderr + again.stdout).not.toContain('reloading the proxy');
  });
});
