/**
 * npm run bench:rollout — two simulated hosts x 2 instances behind their Caddy proxies, a steady keep-alive load on
 * both proxies (loopback, bounded), a rollout of a code change and then a rollback, both timed. Prints RESULT last.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { makeExampleApp } from '../test/helpers/example.js';
import { startLoad } from '../test/helpers/load.js';
import { HOSTS, REPO } from '../test/helpers/paths.js';
import { boxship, wipeHost } from '../test/helpers/run.js';

const INSTANCES = 2;
const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

async function run(dir: string, args: string[]): Promise<number> {
  const t0 = Date.now();
  const r = await boxship(args, { cwd: dir });
  if (r.code !== 0) throw new Error(`boxship ${args.join(' ')} exited ${r.code}:\n${r.stdout.slice(-2000)}\n${r.stderr}`);
  return (Date.now() - t0) / 1000;
}

async function main(): Promise<void> {
  execFileSync('bash', ['scripts/test-hosts.sh', 'up'], { cwd: REPO, stdio: ['ignore', 2, 2] });
  await Promise.all(HOSTS.map((h) => wipeHost(h.container)));
  const app = makeExampleApp(join(REPO, '.boxship-test'));
  app.writeConfig({ instances: INSTANCES });
  app.commit('bench: two instances per host');
  await run(app.dir, ['release']);
  await run(app.dir, ['rollout']);
  app.bumpVersion('bench-2');
  await run(app.dir, ['release']);
  log('v1 serves on 2 hosts x 2 instances; v2 is shipped. Starting the load.');

  // Steady, not flooding: 2 keep-alive clients per proxy, each pausing 20 ms between requests (about 70 requests/s
  // per proxy here). A flood would measure this 2-core machine's loopback proxies, not the rollout.
  const load = startLoad(HOSTS.map((h) => h.httpPort), { clients: 2, maxSeconds: 300, pauseMs: 20 });
  const loadStarted = Date.now();
  await new Promise((r) => setTimeout(r, 1000));
  const rolloutSeconds = await run(app.dir, ['rollout']);
  log(`rollout: ${rolloutSeconds}s`);
  await new Promise((r) => setTimeout(r, 1000));
  const rollbackSeconds = await run(app.dir, ['rollback']);
  log(`rollback: ${rollbackSeconds}s`);
  await new Promise((r) => setTimeout(r, 1000));
  const stats = await load.stop();
  const rate = stats.requests / ((Date.now() - loadStarted) / 1000);
  log(`load: ${rate.toFixed(0)} requests/s over both proxies; ${JSON.stringify({ ...stats, failures: stats.failures.slice(0, 5) })}`);
  const instances = HOSTS.length * INSTANCES;
  console.log(
    `RESULT rollout_seconds=${rolloutSeconds.toFixed(2)} rollback_seconds=${rollbackSeconds.toFixed(2)} rollback_per_instance_seconds=${(rollbackSeconds / instances).toFixed(2)} requests=${stats.requests} failed=${stats.failed} non_200_without_retry_after=${stats.nonOkWithoutRetryAfter}`,
  );
}

await main();
