/**
 * npm run bench:transfer — the plain way (`docker save | ssh host docker load`, OpenSSH) against boxship, on a
 * fresh simulated host: first a first release, then a code-only change. Then the same against a fresh host on
 * Docker 26's containerd image store (ctrd_*). Prints RESULT as its last line.
 *
 * Hosts: BENCH_HOST (default bench:2209:8089) and BENCH_CTRD_HOST (default benchc:2210:8090:ctrd), as
 * scripts/test-hosts.sh SPECs; a checkout that shares this machine with others picks its own.
 *
 * Order matters for fairness: each method ships to a host in the same state (empty for "first", holding v1 but not
 * v2 for "change"). Times are of shipping only (the build is done before the clock starts for both).
 */
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { makeExampleApp } from '../test/helpers/example.js';
import { REPO, TEST_KEY, TEST_KNOWN_HOSTS } from '../test/helpers/paths.js';
import { boxship, jsonOutput, onHost, wipeHost } from '../test/helpers/run.js';

function benchHost(spec: string) {
  const [name = '', ssh = '', http = '', flavour] = spec.split(':');
  return { spec, name, container: `boxship-host-${name}`, sshPort: Number(ssh), httpPort: Number(http), flavour, address: `root@127.0.0.1:${ssh}` };
}
const HOST = benchHost(process.env.BENCH_HOST ?? 'bench:2209:8089');
const ADDRESS = HOST.address;
const CTRD = benchHost(process.env.BENCH_CTRD_HOST ?? 'benchc:2210:8090:ctrd');

interface ReleaseJson {
  tag: string;
  imageId: string;
  hosts: { ok: boolean; bytesSent: number; bytesReceived: number; seconds: number; error?: string }[];
}

function log(line: string): void {
  process.stderr.write(`[bench] ${line}\n`);
}

/** docker save IMAGE | ssh host docker load, counting the bytes that cross. */
function plainShip(image: string, host: { sshPort: number } = HOST): Promise<{ bytes: number; seconds: number }> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const save = spawn('docker', ['save', image], { stdio: ['ignore', 'pipe', 'inherit'] });
    const ssh = spawn('ssh', ['-i', TEST_KEY, '-o', `UserKnownHostsFile=${TEST_KNOWN_HOSTS}`, '-o', 'BatchMode=yes', '-p', String(host.sshPort), 'root@127.0.0.1', 'docker load'], { stdio: ['pipe', 'ignore', 'inherit'] });
    let bytes = 0;
    save.stdout.on('data', (c: Buffer) => (bytes += c.length));
    save.stdout.pipe(ssh.stdin);
    ssh.on('close', (code) => (code === 0 ? resolve({ bytes, seconds: (Date.now() - t0) / 1000 }) : reject(new Error(`plain ship exited ${code}`))));
    save.on('error', reject);
  });
}

async function boxshipRelease(dir: string): Promise<ReleaseJson['hosts'][number] & { tag: string }> {
  const r = await boxship(['release', '--json'], { cwd: dir });
  if (r.code !== 0) throw new Error(`boxship release failed:\n${r.stderr}`);
  const out = jsonOutput<ReleaseJson>(r);
  const h = out.hosts[0]!;
  if (!h.ok) throw new Error(h.error);
  if (h.bytesReceived !== h.bytesSent) throw new Error(`host received ${h.bytesReceived} bytes, boxship sent ${h.bytesSent}`);
  return { ...h, tag: out.tag };
}

async function main(): Promise<void> {
  execFileSync('bash', ['scripts/test-hosts.sh', 'reset', HOST.spec, CTRD.spec], { cwd: REPO, stdio: ['ignore', 2, 2] });
  try {
    const app = makeExampleApp(join(REPO, '.boxship-test'));
    app.writeConfig({ hosts: [ADDRESS] });
    app.commit('bench config');

    // First release, boxship, to the fresh host (its build is cached or timed outside the ship seconds).
    const firstBox = await boxshipRelease(app.dir);
    log(`first release, boxship: ${firstBox.bytesSent} bytes in ${firstBox.seconds}s`);

    // First release, plain, to the same host made empty again.
    await wipeHost(HOST.container);
    const firstPlain = await plainShip(firstBox.tag);
    log(`first release, plain: ${firstPlain.bytes} bytes in ${firstPlain.seconds}s`);

    // Code-only change. The host now holds v1 (loaded the plain way: same image, same layers).
    app.bumpVersion('bench-2');
    // Build v2 through boxship against the host, then take v2 off the host again, so both methods start from v1.
    const warm = await boxshipRelease(app.dir);
    await onHost(HOST.container, `docker image rm ${warm.tag} >/dev/null && docker image prune -f >/dev/null; rm -rf /root/.boxship`);
    const changePlain = await plainShip(warm.tag);
    log(`code change, plain: ${changePlain.bytes} bytes in ${changePlain.seconds}s`);
    await onHost(HOST.container, `docker image rm ${warm.tag} >/dev/null && docker image prune -f >/dev/null`);
    const changeBox = await boxshipRelease(app.dir);
    log(`code change, boxship: ${changeBox.bytesSent} bytes in ${changeBox.seconds}s`);

    // The containerd store: a fresh host, a first release, then a code-only change (the build is a cache hit).
    const capp = makeExampleApp(join(REPO, '.boxship-test'));
    capp.writeConfig({ hosts: [CTRD.address] });
    capp.commit('bench config, containerd host');
    const ctrdFirst = await boxshipRelease(capp.dir);
    log(`containerd store, first release, boxship: ${ctrdFirst.bytesSent} bytes in ${ctrdFirst.seconds}s`);
    capp.bumpVersion('bench-ctrd-2');
    const ctrdChange = await boxshipRelease(capp.dir);
    log(`containerd store, code change, boxship: ${ctrdChange.bytesSent} bytes in ${ctrdChange.seconds}s`);
    // Plain sends the whole image whatever the host holds: `docker save` of v2, loaded for real to prove it is that.
    await onHost(CTRD.container, `docker image rm ${ctrdChange.tag} >/dev/null`);
    const ctrdPlain = await plainShip(ctrdChange.tag, CTRD);
    log(`containerd store, code change, plain: ${ctrdPlain.bytes} bytes in ${ctrdPlain.seconds}s`);

    const ratio = (a: number, b: number) => (a / b).toFixed(6);
    log(`ratios: change bytes ${ratio(changeBox.bytesSent, changePlain.bytes)} (target <= 0.001), first bytes ${ratio(firstBox.bytesSent, firstPlain.bytes)} (target <= 0.5), containerd change bytes ${ratio(ctrdChange.bytesSent, ctrdPlain.bytes)} (target <= 0.001)`);
    console.log(
      `RESULT first_bytes_plain=${firstPlain.bytes} first_bytes_boxship=${firstBox.bytesSent} change_bytes_plain=${changePlain.bytes} change_bytes_boxship=${changeBox.bytesSent} change_seconds_plain=${changePlain.seconds.toFixed(2)} change_seconds_boxship=${changeBox.seconds.toFixed(2)} ctrd_first_bytes_boxship=${ctrdFirst.bytesSent} ctrd_change_bytes_boxship=${ctrdChange.bytesSent} ctrd_change_bytes_plain=${ctrdPlain.bytes}`,
    );
  } finally {
    execFileSync('bash', ['scripts/test-hosts.sh', 'down', HOST.name, CTRD.name], { cwd: REPO, stdio: ['ignore', 2, 2] });
  }
}

await main();
