/**
 * npm run bench:transfer — the plain way against boxship, all in one run. Prints RESULT as its last line.
 *
 * On loopback (a fresh simulated host, BENCH_HOST): a first release, then a code-only change; plain is
 * `docker save | ssh host docker load` (OpenSSH). `save_seconds` is `docker save` of the changed image to /dev/null:
 * on a classic-store engine the floor of anything that needs the new layer's bytes. The first boxship release starts
 * from an empty layer cache (the worst case: every layer is compressed while it streams). Then the same on a fresh
 * host on Docker 26's containerd store (BENCH_CTRD_HOST, ctrd_*).
 *
 * On a shaped link (shaped_*): traffic from this machine to the hosts limited to 100 Mbit/s, one uplink shared by
 * every host as a laptop's or a CI runner's is, while host-to-host traffic stays fast (an htb qdisc on the bridge of
 * the bench's own Docker network: what this machine sends to a host leaves through it, host-to-host traffic is
 * bridged past it). Plain there is `docker save | gzip -1 | ssh host docker load`, its best form on a slow link, to
 * each host in parallel. The hosts can relay (ship.relay: auto): each holds a key the others accept and is reached at
 * its address on the network. shaped_change: both hosts hold the previous release; shaped_first: both are empty;
 * shaped_4hosts: a first release to 4 empty hosts (BENCH_HOST, BENCH_CTRD_HOST and BENCH_EXTRA_HOSTS).
 *
 * Hosts are scripts/test-hosts.sh SPECs; a checkout that shares this machine with others picks its own (defaults:
 * bench:2209:8089, benchc:2210:8090:ctrd, benchx1:2211:8091 benchx2:2212:8092). Times are of shipping only (the
 * build is done before the clock starts for both). Each method ships to hosts in the same state.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeExampleApp, type ExampleApp } from '../test/helpers/example.js';
import { REPO, TEST_KEY, TEST_KNOWN_HOSTS, TEST_STATE } from '../test/helpers/paths.js';
import { boxship, jsonOutput, onHost, wipeHost } from '../test/helpers/run.js';

function benchHost(spec: string) {
  const [name = '', ssh = '', http = '', flavour] = spec.split(':');
  return { spec, name, container: `boxship-host-${name}`, sshPort: Number(ssh), httpPort: Number(http), flavour, address: `root@127.0.0.1:${ssh}` };
}
type BenchHost = ReturnType<typeof benchHost>;
const HOST = benchHost(process.env.BENCH_HOST ?? 'bench:2209:8089');
const CTRD = benchHost(process.env.BENCH_CTRD_HOST ?? 'benchc:2210:8090:ctrd');
const EXTRA = (process.env.BENCH_EXTRA_HOSTS ?? 'benchx1:2211:8091 benchx2:2212:8092').trim().split(/\s+/).map(benchHost);
const ALL = [HOST, CTRD, ...EXTRA];
/** The bench's own network, so shaping its bridge touches no other checkout's hosts. */
const NETWORK = `boxship-bench-${createHash('sha256').update(REPO).digest('hex').slice(0, 8)}`;
const CACHE = join(TEST_STATE, 'bench-cache');
/** BENCH_TRACE=<dir>: each boxship release's stderr, with BOXSHIP_DEBUG's timed trace, kept as <dir>/release-<n>.log. */
const TRACE = process.env.BENCH_TRACE;
let traced = 0;
const ENV = { BOXSHIP_CACHE_DIR: CACHE, ...(TRACE ? { BOXSHIP_DEBUG: '1' } : {}) };

interface HostJson {
  host: string;
  ok: boolean;
  bytesSent: number;
  bytesReceived: number;
  seconds: number;
  error?: string;
  relayedFrom?: string;
}
interface ReleaseJson {
  tag: string;
  imageId: string;
  hosts: HostJson[];
  transfer?: { saveSeconds: number; saves: number; layersFromCache: number; layersCompressed: number; uplinkBytes: number };
}

function log(line: string): void {
  process.stderr.write(`[bench] ${line}\n`);
}

function hosts(action: 'reset' | 'down', list: BenchHost[]): void {
  execFileSync('bash', ['scripts/test-hosts.sh', action, ...list.map((h) => (action === 'down' ? h.name : h.spec))], {
    cwd: REPO,
    stdio: ['ignore', 2, 2],
    env: { ...process.env, BOXSHIP_TEST_NETWORK: NETWORK },
  });
}

const sshArgs = (h: BenchHost) => [
  '-i',
  TEST_KEY,
  '-o',
  `UserKnownHostsFile=${TEST_KNOWN_HOSTS}`,
  '-o',
  'BatchMode=yes',
  '-p',
  String(h.sshPort),
  'root@127.0.0.1',
];

/** docker save IMAGE [| gzip -1] | ssh host docker load, counting the bytes that cross. */
function plainShip(image: string, host: BenchHost, gzip = false): Promise<{ bytes: number; seconds: number }> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const save = spawn('sh', ['-c', gzip ? 'docker save "$1" | gzip -1' : 'docker save "$1"', 'sh', image], { stdio: ['ignore', 'pipe', 'inherit'] });
    const ssh = spawn('ssh', [...sshArgs(host), 'docker load'], { stdio: ['pipe', 'ignore', 'inherit'] });
    let bytes = 0;
    save.stdout.on('data', (c: Buffer) => (bytes += c.length));
    save.stdout.pipe(ssh.stdin);
    ssh.on('close', (code) =>
      code === 0 ? resolve({ bytes, seconds: (Date.now() - t0) / 1000 }) : reject(new Error(`plain ship to ${host.name} exited ${code}`)),
    );
    save.on('error', reject);
  });
}

/** Plain to several hosts at once: the wall time until the last has loaded. */
async function plainFleet(image: string, list: BenchHost[], gzip: boolean): Promise<{ bytes: number; seconds: number }> {
  const t0 = Date.now();
  const r = await Promise.all(list.map((h) => plainShip(image, h, gzip)));
  return { bytes: r.reduce((a, x) => a + x.bytes, 0), seconds: (Date.now() - t0) / 1000 };
}

/** boxship release; the seconds are the slowest host's (hosts ship in parallel, timed from the start of shipping). */
async function boxshipRelease(dir: string): Promise<{ tag: string; bytes: number; seconds: number; out: ReleaseJson }> {
  const r = await boxship(['release', '--json'], { cwd: dir, env: ENV });
  if (TRACE) writeFileSync(join(TRACE, `release-${++traced}.log`), r.stderr);
  if (r.code !== 0) throw new Error(`boxship release failed:\n${r.stderr}`);
  const out = jsonOutput<ReleaseJson>(r);
  for (const h of out.hosts) {
    if (!h.ok) throw new Error(`${h.host}: ${h.error}`);
    if (h.bytesReceived !== h.bytesSent) throw new Error(`${h.host} received ${h.bytesReceived} bytes, boxship sent ${h.bytesSent}`);
  }
  const bytes = out.transfer?.uplinkBytes ?? out.hosts.reduce((a, h) => a + h.bytesSent, 0);
  return { tag: out.tag, bytes, seconds: Math.max(...out.hosts.map((h) => h.seconds)), out };
}

function timeSave(image: string): number {
  const t0 = Date.now();
  execFileSync('sh', ['-c', 'docker save "$1" > /dev/null', 'sh', image]);
  return (Date.now() - t0) / 1000;
}

const ip = (h: BenchHost) =>
  execFileSync('docker', ['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', h.container], { encoding: 'utf8' }).trim();

/** The bench network's bridge: what this machine sends to the hosts leaves through it. */
function bridge(): string {
  return `br-${execFileSync('docker', ['network', 'inspect', '-f', '{{.Id}}', NETWORK], { encoding: 'utf8' }).trim().slice(0, 12)}`;
}
function shape(on: boolean): void {
  const dev = bridge();
  execFileSync('sh', ['-c', `tc qdisc del dev ${dev} root 2>/dev/null || true`]);
  if (!on) return;
  execFileSync('tc', ['qdisc', 'add', 'dev', dev, 'root', 'handle', '1:', 'htb', 'default', '10']);
  execFileSync('tc', ['class', 'add', 'dev', dev, 'parent', '1:', 'classid', '1:10', 'htb', 'rate', '100mbit', 'ceil', '100mbit', 'quantum', '60000']);
}

/** An app shipped to these hosts, which can relay to each other. */
function fleetApp(list: BenchHost[], message: string): ExampleApp {
  for (const h of list) execFileSync('docker', ['cp', TEST_KEY, `${h.container}:/root/.ssh/id_ed25519`]);
  const app = makeExampleApp(join(REPO, '.boxship-test'));
  app.writeConfig({ hosts: list.map((h) => `{ address: "${h.address}", relay_address: "root@${ip(h)}:22" }`) });
  app.commit(message);
  return app;
}

/** Takes an image's config and top layer out of the layer cache: as if it had just been built. */
function forgetBuild(imageId: string, tag: string): void {
  const layers = JSON.parse(execFileSync('docker', ['image', 'inspect', '--format', '{{json .RootFS.Layers}}', tag], { encoding: 'utf8' })) as string[];
  for (const [sub, digest] of [
    ['config', imageId],
    ['gzip', layers[layers.length - 1]!],
    ['zstd', layers[layers.length - 1]!],
  ] as const) {
    rmSync(join(CACHE, sub, digest.replace('sha256:', '')), { force: true });
  }
}

const forget = (list: BenchHost[], tag: string) =>
  Promise.all(list.map((h) => onHost(h.container, `docker image rm ${tag} >/dev/null 2>&1; docker image prune -f >/dev/null; true`)));

async function main(): Promise<void> {
  rmSync(CACHE, { recursive: true, force: true });
  mkdirSync(CACHE, { recursive: true });
  hosts('reset', [HOST, CTRD]);
  try {
    // --- Loopback, one host. ---
    const app = makeExampleApp(join(REPO, '.boxship-test'));
    app.writeConfig({ hosts: [HOST.address] });
    app.commit('bench config');

    // First release, boxship, to the fresh host, from an empty layer cache (the build may be cached: not timed).
    const firstBox = await boxshipRelease(app.dir);
    log(`first release, boxship (empty cache): ${firstBox.bytes} bytes in ${firstBox.seconds}s (${JSON.stringify(firstBox.out.transfer)})`);
    await wipeHost(HOST.container);
    const firstPlain = await plainShip(firstBox.tag, HOST);
    log(`first release, plain: ${firstPlain.bytes} bytes in ${firstPlain.seconds}s`);

    // Code-only change. The host holds v1. Build v2 through boxship, take it off the host again.
    app.bumpVersion('bench-2');
    const warm = await boxshipRelease(app.dir);
    await onHost(HOST.container, `docker image rm ${warm.tag} >/dev/null && docker image prune -f >/dev/null; rm -rf /root/.boxship`);
    const changePlain = await plainShip(warm.tag, HOST);
    log(`code change, plain: ${changePlain.bytes} bytes in ${changePlain.seconds}s`);
    await onHost(HOST.container, `docker image rm ${warm.tag} >/dev/null && docker image prune -f >/dev/null`);
    // boxship ships the same v2, with the cache as it was before v2 was built: v1's layers, not v2's config or layer.
    forgetBuild(warm.out.imageId, warm.tag);
    const saveSeconds = timeSave(warm.tag);
    log(`docker save of the changed image: ${saveSeconds}s`);
    const changeBox = await boxshipRelease(app.dir);
    log(`code change, boxship: ${changeBox.bytes} bytes in ${changeBox.seconds}s (${JSON.stringify(changeBox.out.transfer)})`);

    // The containerd store: a fresh host, a first release, then a code-only change.
    const capp = makeExampleApp(join(REPO, '.boxship-test'));
    capp.writeConfig({ hosts: [CTRD.address] });
    capp.commit('bench config, containerd host');
    const ctrdFirst = await boxshipRelease(capp.dir);
    log(`containerd store, first release, boxship: ${ctrdFirst.bytes} bytes in ${ctrdFirst.seconds}s`);
    capp.bumpVersion('bench-ctrd-2');
    const ctrdChange = await boxshipRelease(capp.dir);
    log(`containerd store, code change, boxship: ${ctrdChange.bytes} bytes in ${ctrdChange.seconds}s`);
    await onHost(CTRD.container, `docker image rm ${ctrdChange.tag} >/dev/null`);
    const ctrdPlain = await plainShip(ctrdChange.tag, CTRD);
    log(`containerd store, code change, plain: ${ctrdPlain.bytes} bytes in ${ctrdPlain.seconds}s`);

    // --- Shaped: one 100 Mbit/s uplink for the fleet. ---
    const fleet = [HOST, CTRD];
    await Promise.all(fleet.map((h) => wipeHost(h.container)));
    const sapp = fleetApp(fleet, 'bench config, shaped fleet');
    await boxshipRelease(sapp.dir); // both hosts hold v1 (unshaped: setup, not measured)
    shape(true);
    try {
      // Code change on the shaped link.
      sapp.bumpVersion('shaped-2');
      const sw = await boxshipRelease(sapp.dir); // builds v2 (and ships it: taken off again)
      await forget(fleet, sw.tag);
      const shapedChangePlain = await plainFleet(sw.tag, fleet, true);
      log(`shaped, code change, plain (gzip -1, 2 hosts): ${shapedChangePlain.bytes} bytes in ${shapedChangePlain.seconds}s`);
      await forget(fleet, sw.tag);
      forgetBuild(sw.out.imageId, sw.tag);
      const shapedChangeBox = await boxshipRelease(sapp.dir);
      log(`shaped, code change, boxship: ${shapedChangeBox.bytes} bytes in ${shapedChangeBox.seconds}s`);

      // First release to the empty fleet on the shaped link.
      await Promise.all(fleet.map((h) => wipeHost(h.container)));
      const shapedFirstPlain = await plainFleet(shapedChangeBox.tag, fleet, true);
      log(`shaped, first release, plain (gzip -1, 2 hosts): ${shapedFirstPlain.bytes} bytes in ${shapedFirstPlain.seconds}s`);
      await Promise.all(fleet.map((h) => wipeHost(h.container)));
      const shapedFirstBox = await boxshipRelease(sapp.dir);
      log(
        `shaped, first release, boxship: ${shapedFirstBox.bytes} bytes from here in ${shapedFirstBox.seconds}s (${shapedFirstBox.out.hosts.map((h) => (h.relayedFrom ? `${h.host} relayed` : `${h.host} direct`)).join(', ')})`,
      );

      // First release to 4 empty hosts.
      shape(false);
      hosts('reset', EXTRA);
      const four = [HOST, CTRD, ...EXTRA];
      await Promise.all(four.map((h) => wipeHost(h.container)));
      const fapp = fleetApp(four, 'bench config, 4 hosts');
      // The same image as shaped_first (same commit contents, built again): its layers are in the cache.
      shape(true);
      const fourPlain = await plainFleet(shapedChangeBox.tag, four, true);
      log(`shaped, 4 hosts, first release, plain: ${fourPlain.bytes} bytes in ${fourPlain.seconds}s`);
      await Promise.all(four.map((h) => wipeHost(h.container)));
      const fourBox = await boxshipRelease(fapp.dir);
      log(
        `shaped, 4 hosts, first release, boxship: ${fourBox.bytes} bytes from here in ${fourBox.seconds}s (${fourBox.out.hosts.map((h) => (h.relayedFrom ? `${h.host} relayed from ${h.relayedFrom}` : `${h.host} direct`)).join(', ')})`,
      );

      const ratio = (a: number, b: number) => (a / b).toFixed(3);
      log(
        `ratios: change bytes ${ratio(changeBox.bytes, changePlain.bytes)} (<= 0.001), first bytes ${ratio(firstBox.bytes, firstPlain.bytes)} (<= 0.5), ` +
          `change overhead ${(changeBox.seconds - saveSeconds).toFixed(2)}s (<= 0.5), first ${ratio(firstBox.seconds, firstPlain.seconds)} (<= 1.0), ` +
          `shaped change ${ratio(shapedChangeBox.seconds, shapedChangePlain.seconds)} (<= 0.3), shaped first ${ratio(shapedFirstBox.seconds, shapedFirstPlain.seconds)} (<= 0.6), ` +
          `shaped 4 hosts ${ratio(fourBox.seconds, fourPlain.seconds)} (<= 0.4)`,
      );
      const f = (n: number) => n.toFixed(2);
      console.log(
        `RESULT first_bytes_plain=${firstPlain.bytes} first_bytes_boxship=${firstBox.bytes} change_bytes_plain=${changePlain.bytes} change_bytes_boxship=${changeBox.bytes} ` +
          `change_seconds_plain=${f(changePlain.seconds)} change_seconds_boxship=${f(changeBox.seconds)} ctrd_first_bytes_boxship=${ctrdFirst.bytes} ctrd_change_bytes_boxship=${ctrdChange.bytes} ctrd_change_bytes_plain=${ctrdPlain.bytes} ` +
          `save_seconds=${f(saveSeconds)} first_seconds_plain=${f(firstPlain.seconds)} first_seconds_boxship=${f(firstBox.seconds)} ` +
          `shaped_change_seconds_plain=${f(shapedChangePlain.seconds)} shaped_change_seconds_boxship=${f(shapedChangeBox.seconds)} ` +
          `shaped_first_seconds_plain=${f(shapedFirstPlain.seconds)} shaped_first_seconds_boxship=${f(shapedFirstBox.seconds)} ` +
          `shaped_4hosts_seconds_plain=${f(fourPlain.seconds)} shaped_4hosts_seconds_boxship=${f(fourBox.seconds)}`,
      );
    } finally {
      shape(false);
    }
  } finally {
    hosts('down', ALL);
    execFileSync('sh', ['-c', `docker network rm ${NETWORK} >/dev/null 2>&1 || true`]);
  }
}

await main();
