/**
 * The whole boxship cycle on the local simulated hosts, as a user would type it: run by `npm run demo` (the
 * README's first command, after scripts/setup.sh). Each step prints the command, then boxship's own output.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { makeExampleApp } from '../test/helpers/example.js';
import { request } from '../test/helpers/https.js';
import { BOXSHIP_BIN, HOST_SPECS, HOSTS, REPO, rememberedSlot } from '../test/helpers/paths.js';
import { startPebble } from '../test/helpers/pebble.js';
import { ensureRedisImage } from '../test/helpers/redis-image.js';
import { wipeHost } from '../test/helpers/run.js';
import { testnetAddress } from '../test/helpers/swarm.js';

const fresh = process.argv.includes('--fresh');
// The hosts the tests use (BOXSHIP_TEST_HOSTS, else this checkout's slot, else the default two).
execFileSync('bash', ['scripts/test-hosts.sh', fresh ? 'reset' : 'up', ...HOST_SPECS], { cwd: REPO, stdio: 'inherit' });

// A demo starts from empty servers: whatever an earlier demo, test or bench left on these hosts goes first.
await Promise.all(HOSTS.map((h) => wipeHost(h.container)));
const app = makeExampleApp(join(REPO, '.boxship-test'));
console.log(`\nThe example app is a git repo at ${app.dir}; its boxship.yml aims at ${HOSTS.map((h) => h.address).join(' and ')}.\n`);

function step(title: string, args: string[], { mayFail = false, cwd = app.dir } = {}): number {
  console.log(`\n\x1b[1m== ${title}\x1b[0m\n$ boxship ${args.join(' ')}`);
  const r = spawnSync(process.execPath, [BOXSHIP_BIN, ...args], { cwd, stdio: 'inherit' });
  if (r.status !== 0 && !mayFail) {
    console.error(`\ndemo: "boxship ${args.join(' ')}" exited ${r.status}`);
    process.exit(r.status ?? 1);
  }
  return r.status ?? 1;
}

/** What a client sees on each host's proxy right now. */
async function curl(label: string): Promise<void> {
  for (const h of HOSTS) {
    const line = await fetch(`http://127.0.0.1:${h.httpPort}/`, { signal: AbortSignal.timeout(5000) }).then(
      async (r) => `HTTP ${r.status}${r.headers.get('retry-after') ? ` Retry-After: ${r.headers.get('retry-after')}` : ''} ${(await r.text()).trim()}`,
      (e: Error) => `no answer (${e.message})`,
    );
    console.log(`  ${label}, host ${h.name} (127.0.0.1:${h.httpPort}): ${line}`);
  }
}

/** One path on one host's proxy. */
async function curlPath(label: string, path: string, h = HOSTS[0]): Promise<void> {
  const line = await fetch(`http://127.0.0.1:${h.httpPort}${path}`, { signal: AbortSignal.timeout(5000) }).then(
    async (r) => `HTTP ${r.status} ${(await r.text()).trim()}`,
    (e: Error) => `no answer (${e.message})`,
  );
  console.log(`  ${label}, GET ${path} on host ${h.name}: ${line}`);
}

/** Queues a job on one host's web instances (POST /jobs), for the worker role to take from the accessory. */
async function postJob(job: string, h = HOSTS[0]): Promise<void> {
  const line = await fetch(`http://127.0.0.1:${h.httpPort}/jobs`, { method: 'POST', body: job, signal: AbortSignal.timeout(5000) }).then(
    async (r) => `HTTP ${r.status} ${(await r.text()).trim()}`,
    (e: Error) => `no answer (${e.message})`,
  );
  console.log(`  queue job ${job}, POST /jobs on host ${h.name}: ${line}`);
}

app.writeConfig({ pins: null });
app.commit('boxship.yml without pins yet');
step('Pin the base images by their local IDs', ['pin']);
app.commit('pin base images');
step('Release: build this commit and ship it to both hosts', ['release']);
step('Roll it out behind Caddy', ['rollout']);
await curl('now');
app.bumpVersion('2');
step('Release a code change: only the changed layer travels', ['release']);
step('Canary: move one instance to the new release', ['rollout', '--canary', '1']);
step('Status shows the split', ['status']);
await curl('canary');
step('Promote: the same rollout again moves the rest', ['rollout']);
await curl('promoted');
step('Roll back to the previous release (no transfer)', ['rollback']);
await curl('rolled back');
step('Maintenance on: every request gets 503 + Retry-After', ['maintenance', 'on', '--message', 'Back in 5 minutes']);
await curl('maintenance');
step('Maintenance off', ['maintenance', 'off']);
await curl('serving');
step('What each host has', ['releases']);
// An accessory: a Redis built here from Debian's package (examples/redis), shipped like a release, started by deploy
// because it is missing, reachable by the app as `cache` on both hosts (host b's at host a's private address, its
// address on the hosts' network: boxship reaches them on 127.0.0.1); a pre_rollout hook (node migrate.js) writes a row to it.
const redisImage = ensureRedisImage();
app.writeConfig({
  hosts: HOSTS.map((h) => `{ address: "${h.address}", private_address: ${testnetAddress(h)} }`),
  appYaml: ['  env: { REDIS_HOST: cache }'],
  extraYaml: [
    'accessories:',
    '  cache:                        # on the first host (the default), as the container hello-cache',
    `    image: ${redisImage}`,
    '    port: 6379',
    '    volumes: { data: /data }    # ~/.boxship/hello/accessories/cache/data on the host',
    '    cmd: [redis-server, --protected-mode, "no", --dir, /data, --appendonly, "yes"]',
    'hooks:',
    '  pre_rollout: node migrate.js  # a one-off container of the new release: records a row in the cache',
    'roles:',
    '  worker:                       # beside web on every host: same image, no HTTP; takes the jobs web queues in cache',
    '    cmd: [node, worker.js]',
    '    healthcheck: { cmd: [node, worker.js, --check] }',
  ].join('\n'),
});
app.bumpVersion('3');
step(
  'Deploy: release + rollout in one command; the missing Redis accessory is started, a pre_rollout migration writes to it, a worker role starts beside web',
  ['deploy'],
);
await curl('deployed');
await curlPath('the app reads the row the migration wrote to the accessory', '/migrations');
await curlPath('the app on the other host reads it too, from the same accessory', '/migrations', HOSTS[1]);
await postJob('invoice-1');
await postJob('invoice-2', HOSTS[1]);
await new Promise((r) => setTimeout(r, 2500));
await curlPath('the worker role took both jobs from the accessory (who did each)', '/jobs/done');
step('The worker role’s logs on both hosts', ['logs', '--role', 'worker', '-n', '3']);
step('Restart the accessory: same container, same data', ['accessory', 'restart', 'cache']);
await curlPath('after the restart', '/migrations');
step('The accessory’s logs', ['accessory', 'logs', 'cache', '-n', '3']);
step('Logs of every instance on both hosts, merged', ['logs', '-n', '3']);
step('A one-off command in the serving release, with the app env', [
  'exec',
  '--',
  'node',
  '-e',
  'console.log(`sha ${process.env.BOXSHIP_SHA} port ${process.env.PORT}`)',
]);
// On the internet: two more services on host a, each from its own app folder, by name over HTTPS on its ports 80 and
// 443, certificates from a local ACME CA (pebble, by real HTTP-01 validation against host a).
const host = HOSTS[0];
const pebble = await startPebble(rememberedSlot() ?? 0);
const ip = testnetAddress(host);
const sites = ['shop', 'blog'].map((service) => ({ service, name: `${service}.demo.test`, app: makeExampleApp(join(REPO, '.boxship-test')) }));
for (const s of sites) {
  await pebble.addName(s.name, ip);
  s.app.writeConfig({
    service: s.service,
    hosts: [host.address],
    extraYaml: [
      'proxy:',
      `  hosts: [${s.name}]`,
      `  acme: { ca: ${JSON.stringify(pebble.directoryUrl)}, ca_root: ${JSON.stringify(pebble.listenerCaPath)} }`,
    ].join('\n'),
  });
  s.app.commit(`${s.service}: served by name`);
  console.log(`\n${s.app.dir}/boxship.yml serves ${s.service} as https://${s.name} on host ${host.name}.`);
  step(`Deploy ${s.service}: the edge on host ${host.name} routes ${s.name} to it and obtains its certificate`, ['deploy'], { cwd: s.app.dir });
}
const root = await pebble.rootPem();
for (const s of sites) {
  const line = await request({ ip, name: s.name, ca: root }).then(
    (r) => `HTTP ${r.status} ${r.body.trim().slice(0, 80)}`,
    (e: Error) => `no answer (${e.message})`,
  );
  console.log(`  GET https://${s.name}/ on host ${host.name} (${ip}:443, certificate checked against the CA's root): ${line}`);
}
const plain = await request({ ip, name: sites[0]!.name, plain: true }).then((r) => `HTTP ${r.status} -> ${r.headers.location}`);
console.log(`  GET http://${sites[0]!.name}/: ${plain}`);
step('Status names the certificate of each name', ['status'], { cwd: sites[0]!.app.dir });

console.log('\nDemo finished. The hosts and the local ACME CA keep running: `npm run hosts:down` removes them.');
