/**
 * npm run bench:rollout — two simulated hosts x 2 instances behind their Caddy proxies, a steady keep-alive load of
 * GETs and POSTs (0.5 KB JSON body) on both proxies (loopback, bounded):
 * 1. a rollout of a code change and a rollback, both timed;
 * 2. maintenance on, then off, under a keep-alive GET load: connection errors there are resets caused by the proxy;
 * 3. the same rollout and rollback with an app that drains like a real express app (DRAIN_MODE=keepalive: keeps
 *    serving its open connections and exits only after DRAIN_SECONDS=10): only one drain may be on the critical path.
 * Prints RESULT last. BOXSHIP_TEST_PROXY_IMAGE picks the proxy image (default boxship-proxy:caddy-2.6.2).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { makeExampleApp, type ExampleApp } from '../test/helpers/example.js';
import { type LoadStats, startLoad } from '../test/helpers/load.js';
import { HOSTS, HOST_SPECS, REPO } from '../test/helpers/paths.js';
import { timedBoxship, wipeHost } from '../test/helpers/run.js';

const INSTANCES = 2;
const DRAIN_SECONDS = 10;
const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ports = HOSTS.map((h) => h.httpPort);

async function release(app: ExampleApp, version: string): Promise<void> {
  app.bumpVersion(version);
  await timedBoxship(app.dir, ['release']);
}

/**
 * Steady, not flooding: 2 keep-alive clients per proxy, each pausing 20 ms between requests, every other request a
 * POST. A flood would measure this 2-core machine's loopback proxies, not the rollout.
 */
async function timedRolloutAndRollback(app: ExampleApp, label: string): Promise<{ rollout: number; rollback: number; stats: LoadStats }> {
  const load = startLoad(ports, { clients: 2, maxSeconds: 300, pauseMs: 20, post: true });
  const started = Date.now();
  await sleep(1000);
  const rollout = await timedBoxship(app.dir, ['rollout']);
  log(`${label} rollout: ${rollout}s`);
  await sleep(1000);
  const rollback = await timedBoxship(app.dir, ['rollback']);
  log(`${label} rollback: ${rollback}s`);
  await sleep(1000);
  const stats = await load.stop();
  log(
    `${label} load: ${(stats.requests / ((Date.now() - started) / 1000)).toFixed(0)} requests/s; ${JSON.stringify({ ...stats, failures: stats.failures.slice(0, 5) })}`,
  );
  return { rollout, rollback, stats };
}

async function main(): Promise<void> {
  execFileSync('bash', ['scripts/test-hosts.sh', 'up', ...HOST_SPECS], { cwd: REPO, stdio: ['ignore', 2, 2] });
  await Promise.all(HOSTS.map((h) => wipeHost(h.container)));
  const app = makeExampleApp(join(REPO, '.boxship-test'));
  app.writeConfig({ instances: INSTANCES });
  app.commit('bench: two instances per host');
  await timedBoxship(app.dir, ['release']);
  await timedBoxship(app.dir, ['rollout']);
  await release(app, 'bench-2');
  log(`v1 serves on ${HOSTS.length} hosts x ${INSTANCES} instances; v2 is shipped. Machine load: ${execFileSync('uptime', { encoding: 'utf8' }).trim()}`);

  const plain = await timedRolloutAndRollback(app, 'plain');

  // Maintenance on and off under keep-alive load: neither may close a client connection.
  const mload = startLoad(ports, { clients: 2, maxSeconds: 120, pauseMs: 20 });
  await sleep(1000);
  await timedBoxship(app.dir, ['maintenance', 'on', '--retry-after', '5', '--message', 'bench maintenance']);
  await sleep(1000);
  await timedBoxship(app.dir, ['maintenance', 'off']);
  await sleep(1000);
  const m = await mload.stop();
  log(`maintenance on/off: ${JSON.stringify({ ...m, failures: m.failures.slice(0, 5) })}`);

  // The draining app: the env reaches instances started from now on, so first a release that starts them all.
  app.writeConfig({ instances: INSTANCES, appYaml: [`  env: { DRAIN_MODE: keepalive, DRAIN_SECONDS: "${DRAIN_SECONDS}" }`] });
  await release(app, 'bench-drain-1');
  await timedBoxship(app.dir, ['rollout']);
  await release(app, 'bench-drain-2');
  log(`every instance now drains for ${DRAIN_SECONDS}s on SIGTERM`);
  const drain = await timedRolloutAndRollback(app, 'drain');

  const all = [plain.stats, drain.stats];
  const sum = (f: (s: LoadStats) => number) => all.reduce((n, s) => n + f(s), 0);
  const instances = HOSTS.length * INSTANCES;
  console.log(
    [
      'RESULT',
      `rollout_seconds=${plain.rollout.toFixed(2)}`,
      `rollback_seconds=${plain.rollback.toFixed(2)}`,
      `rollback_per_instance_seconds=${(plain.rollback / instances).toFixed(2)}`,
      `drain_rollout_seconds=${drain.rollout.toFixed(2)}`,
      `drain_rollback_seconds=${drain.rollback.toFixed(2)}`,
      `requests=${sum((s) => s.requests)}`,
      `failed=${sum((s) => s.failed)}`,
      `non_200_without_retry_after=${sum((s) => s.nonOkWithoutRetryAfter)}`,
      `post_requests=${sum((s) => s.postRequests)}`,
      `post_not_ok=${sum((s) => s.postNotOk)}`,
      `maintenance_resets=${m.connectionErrors}`,
    ].join(' '),
  );
}

await main();
