/**
 * npm run bench:swarm — backend: swarm on a 2-node Docker Swarm of simulated hosts (manager + worker, Docker 20.10;
 * BOXSHIP_SWARM_HOSTS picks them, default: the ones after the bare test host), 4 replicas, a steady keep-alive load of
 * GETs and POSTs through both nodes' proxies (loopback, bounded in time and count):
 * 1. a code-change release, then `boxship rollout` (a Swarm rolling update, start-first, health-gated), timed;
 * 2. `boxship rollback` to the previous release, timed, and the image bytes it moved: every boxship transfer lands in
 *    a node's release ledger with its byte count, and `docker load` events on the nodes catch any other.
 * The swarm is taken apart at the end. Prints RESULT last.
 */
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { makeExampleApp, type ExampleApp } from '../test/helpers/example.js';
import { startLoad } from '../test/helpers/load.js';
import { REPO, SWARM_HOSTS, type TestHost } from '../test/helpers/paths.js';
import { timedBoxship, onHost } from '../test/helpers/run.js';
import { makeSwarm, takeSwarmApart } from '../test/helpers/swarm.js';

const REPLICAS = 4;
const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const [manager] = SWARM_HOSTS;
const ports = SWARM_HOSTS.map((h) => h.httpPort);

/** Bytes of every release a node's ledger records (each boxship transfer appends one entry with its byte count). */
async function ledgerBytes(h: TestHost): Promise<number> {
  const text = await onHost(h.container, 'cat /root/.boxship/hello/releases.jsonl 2>/dev/null || true');
  return text
    .split('\n')
    .filter(Boolean)
    .reduce((n, l) => n + Number((JSON.parse(l) as { bytes?: number }).bytes ?? 0), 0);
}

/** Counts `docker load` events on a node from now until stop() (an image arriving by any path). */
function watchLoads(h: TestHost): { stop(): Promise<number> } {
  const child = spawn('docker', ['exec', h.container, 'docker', 'events', '--filter', 'type=image', '--filter', 'event=load', '--format', '{{.Action}}'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let loads = 0;
  child.stdout.on('data', (c: Buffer) => (loads += c.toString().split('\n').filter(Boolean).length));
  return {
    async stop() {
      await sleep(500);
      child.kill();
      return loads;
    },
  };
}

async function release(app: ExampleApp, version: string): Promise<void> {
  app.bumpVersion(version);
  await timedBoxship(app.dir, ['release']);
}

async function main(): Promise<void> {
  execFileSync('docker', ['info'], { stdio: 'ignore' });
  await makeSwarm();
  try {
    const app = makeExampleApp(join(REPO, '.boxship-test'));
    app.writeConfig({ hosts: SWARM_HOSTS.map((h) => h.address), extraYaml: `backend: swarm\nswarm:\n  manager: ${manager.address}\n  replicas: ${REPLICAS}` });
    app.commit('bench: a two-node swarm, four replicas');
    await release(app, 'swarm-1');
    await timedBoxship(app.dir, ['rollout']);
    await release(app, 'swarm-2');
    log(`v1 serves on ${REPLICAS} tasks over ${SWARM_HOSTS.length} nodes; v2 is shipped. Machine load: ${execFileSync('uptime', { encoding: 'utf8' }).trim()}`);

    // Steady, not flooding: 2 keep-alive clients per node's proxy, 20 ms apart, every other request a POST.
    const load = startLoad(ports, { clients: 2, maxSeconds: 300, maxRequests: 100_000, pauseMs: 20, post: true });
    const started = Date.now();
    await sleep(1000);
    const rollout = await timedBoxship(app.dir, ['rollout']);
    log(`rollout: ${rollout}s`);
    await sleep(1000);
    const bytesBefore = await Promise.all(SWARM_HOSTS.map(ledgerBytes));
    const watchers = SWARM_HOSTS.map(watchLoads);
    await sleep(300);
    const rollback = await timedBoxship(app.dir, ['rollback']);
    log(`rollback: ${rollback}s`);
    const loads = (await Promise.all(watchers.map((w) => w.stop()))).reduce((a, b) => a + b, 0);
    const bytesAfter = await Promise.all(SWARM_HOSTS.map(ledgerBytes));
    await sleep(1000);
    const stats = await load.stop();
    const rollbackBytes = bytesAfter.reduce((a, b) => a + b, 0) - bytesBefore.reduce((a, b) => a + b, 0);
    log(`rollback moved ${rollbackBytes} image bytes (${loads} docker load events on the nodes)`);
    log(
      `load: ${(stats.requests / ((Date.now() - started) / 1000)).toFixed(0)} requests/s; ${JSON.stringify({ ...stats, failures: stats.failures.slice(0, 5) })}`,
    );
    if (loads > 0) throw new Error(`the rollback loaded ${loads} image(s) on the nodes`);
    console.log(
      [
        'RESULT',
        `swarm_rollout_seconds=${rollout.toFixed(2)}`,
        `swarm_rollback_seconds=${rollback.toFixed(2)}`,
        `rollback_bytes=${rollbackBytes}`,
        `requests=${stats.requests}`,
        `failed=${stats.failed}`,
        `non_200_without_retry_after=${stats.nonOkWithoutRetryAfter}`,
      ].join(' '),
    );
  } finally {
    await takeSwarmApart();
  }
}

await main();
