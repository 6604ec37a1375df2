/**
 * Compress once, cache, relay: the layer cache on this machine (a corrupt entry is found and rebuilt; two services
 * released at once share it safely), and relay hops between hosts (a hop cut mid-transfer falls back to a direct
 * send and leaves nothing on the cut host). Every host counts the bytes it got, and they are what boxship says.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeExampleApp } from '../helpers/example.js';
import { HOSTS, TEST_KEY, TEST_STATE } from '../helpers/paths.js';
import { boxship, jsonOutput, onHost, wipeHost } from '../helpers/run.js';

interface HostJson {
  host: string;
  ok: boolean;
  error?: string;
  imageId: string;
  bytesSent: number;
  bytesReceived: number;
  layersSent: number;
  relayedFrom?: string;
  relayedTo?: string[];
  relayFailed?: string;
}
interface ReleaseJson {
  tag: string;
  hosts: HostJson[];
  transfer: { codec: string; layersFromCache: number; layersCompressed: number; corruptCacheEntries: number; saves: number; uplinkBytes: number };
}

const listedId = async (container: string, ref: string) => (await onHost(container, `docker image ls --no-trunc --format '{{.ID}}' ${ref}`)).trim();
const runsOn = async (container: string, ref: string) =>
  (await onHost(container, `docker run --rm --pull never ${ref} node -e "console.log(require('./package.json').name)"`)).trim();
const leftovers = async (container: string, service = 'hello') =>
  (await onHost(container, `docker image ls -q boxship-incoming; ls /root/.boxship/${service}/incoming 2>/dev/null || true`)).trim();

/** Every entry of a cache dir: its header's sha256 and the sha256 of its bytes. */
function cacheEntries(dir: string): { file: string; want: string; got: string }[] {
  const out: { file: string; want: string; got: string }[] = [];
  for (const sub of ['gzip', 'zstd', 'none', 'config']) {
    let names: string[] = [];
    try {
      names = readdirSync(join(dir, sub));
    } catch {
      continue;
    }
    for (const n of names) {
      const file = join(dir, sub, n);
      const buf = readFileSync(file);
      const nl = buf.indexOf(10);
      const header = JSON.parse(buf.subarray(0, nl).toString()) as { sha256: string };
      out.push({
        file,
        want: header.sha256,
        got: createHash('sha256')
          .update(buf.subarray(nl + 1))
          .digest('hex'),
      });
    }
  }
  return out;
}

describe('the layer cache', () => {
  let cacheDir: string;
  beforeAll(async () => {
    cacheDir = mkdtempSync(join(TEST_STATE, 'cache-'));
    await Promise.all(HOSTS.map((h) => wipeHost(h.container)));
  });

  it('finds a corrupt entry (wrong digest), rebuilds it from docker save, and the host still gets the right image', async () => {
    const host = HOSTS[0];
    const env = { BOXSHIP_CACHE_DIR: cacheDir };
    const app = makeExampleApp();
    app.writeConfig({ hosts: [host.address] });
    app.commit('one host');
    const first = await boxship(['release', '--json'], { cwd: app.dir, env });
    expect(first.code, first.stderr).toBe(0);
    const one = jsonOutput<ReleaseJson>(first);
    expect(one.transfer.layersCompressed).toBeGreaterThan(0);
    expect(one.hosts[0]!.bytesReceived).toBe(one.hosts[0]!.bytesSent);

    // Flip a byte in the middle of the biggest layer entry.
    const biggest = cacheEntries(cacheDir)
      .filter((e) => !e.file.includes('/config/'))
      .map((e) => e.file)
      .sort((a, b) => statSync(b).size - statSync(a).size)[0]!;
    const buf = readFileSync(biggest);
    const at = Math.floor(buf.length / 2);
    buf[at] = buf[at]! ^ 0xff;
    writeFileSync(biggest, buf);
    expect(cacheEntries(cacheDir).filter((e) => e.want !== e.got)).toHaveLength(1);

    await wipeHost(host.container);
    const again = await boxship(['release', '--json'], { cwd: app.dir, env });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/layer cache entry \w+ in .* was corrupt \(wrong digest\): removed, compressing it again/);
    const two = jsonOutput<ReleaseJson>(again);
    expect(two.transfer.corruptCacheEntries).toBe(1);
    expect(two.transfer.layersCompressed).toBe(1);
    expect(two.hosts[0]!.bytesReceived).toBe(two.hosts[0]!.bytesSent);
    expect(await listedId(host.container, two.tag)).toBe(two.hosts[0]!.imageId);
    expect(await runsOn(host.container, two.tag)).toBe('hello');
    // Rebuilt: every entry checks out again.
    expect(cacheEntries(cacheDir).filter((e) => e.want !== e.got)).toEqual([]);
  });

  it('is shared safely by two releases of different services at once, and then serves a code change', async () => {
    const dir = mkdtempSync(join(TEST_STATE, 'cache-'));
    const env = { BOXSHIP_CACHE_DIR: dir };
    await Promise.all(HOSTS.map((h) => wipeHost(h.container)));
    const a = makeExampleApp();
    const b = makeExampleApp();
    a.writeConfig({ service: 'hello' });
    a.commit('service hello');
    b.writeConfig({ service: 'hellotwo' });
    b.bumpVersion('two');
    const [ra, rb] = await Promise.all([boxship(['release', '--json'], { cwd: a.dir, env }), boxship(['release', '--json'], { cwd: b.dir, env })]);
    expect(ra.code, ra.stderr).toBe(0);
    expect(rb.code, rb.stderr).toBe(0);
    const ja = jsonOutput<ReleaseJson>(ra);
    const jb = jsonOutput<ReleaseJson>(rb);
    for (const [r, service] of [
      [ja, 'hello'],
      [jb, 'hellotwo'],
    ] as const) {
      for (const [i, h] of HOSTS.entries()) {
        expect(r.hosts[i]!.ok, r.hosts[i]!.error).toBe(true);
        expect(r.hosts[i]!.bytesReceived).toBe(r.hosts[i]!.bytesSent);
        expect(await listedId(h.container, r.tag)).toBe(r.hosts[i]!.imageId);
        expect(await runsOn(h.container, r.tag)).toBe('hello');
        expect(await leftovers(h.container, service)).toBe('');
      }
    }
    // Both wrote the layers they share: whole entries only, each one checks out, no temp file left.
    const entries = cacheEntries(dir);
    expect(entries.length).toBeGreaterThan(5);
    expect(entries.filter((e) => e.want !== e.got)).toEqual([]);
    expect(readdirSync(join(dir, 'tmp'))).toEqual([]);

    // A code change of one of them compresses its new layer only; the rest comes from the shared cache.
    a.bumpVersion('three');
    const rc = await boxship(['release', '--json'], { cwd: a.dir, env });
    expect(rc.code, rc.stderr).toBe(0);
    const jc = jsonOutput<ReleaseJson>(rc);
    expect(jc.transfer.layersCompressed).toBe(1);
    for (const h of jc.hosts) expect(h).toMatchObject({ ok: true, layersSent: 1, bytesReceived: h.bytesSent });
  });
});

describe('relay between hosts', () => {
  const ip = (c: string) =>
    execFileSync('docker', ['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', c], { encoding: 'utf8' }).trim();
  let app: ReturnType<typeof makeExampleApp>;

  beforeAll(async () => {
    // The hosts reach each other on the test network; each holds a key the others accept (a "deploy key").
    for (const h of HOSTS) execFileSync('docker', ['cp', TEST_KEY, `${h.container}:/root/.ssh/id_ed25519`]);
    app = makeExampleApp();
    app.writeConfig({ hosts: HOSTS.map((h) => `{ address: "${h.address}", relay_address: "root@${ip(h.container)}:22" }`) });
    app.commit('relay between the hosts');
  });

  it('sends once from here and lets the first host forward to the next; each host checks its own copy', async () => {
    await Promise.all(HOSTS.map((h) => wipeHost(h.container)));
    const r = await boxship(['release', '--json'], { cwd: app.dir });
    expect(r.code, r.stderr).toBe(0);
    const out = jsonOutput<ReleaseJson>(r);
    const [head, ...rest] = out.hosts;
    expect(head!.relayedTo).toEqual(rest.map((h) => h.host));
    for (const h of rest) expect(h.relayedFrom).toBe(head!.host);
    // One copy left this machine; every host counted exactly the bytes boxship says it was sent.
    expect(out.transfer.uplinkBytes).toBe(head!.bytesSent);
    for (const [i, h] of HOSTS.entries()) {
      expect(out.hosts[i]!.bytesReceived).toBe(out.hosts[i]!.bytesSent);
      expect(await listedId(h.container, out.tag)).toBe(out.hosts[i]!.imageId);
      expect(await runsOn(h.container, out.tag)).toBe('hello');
      expect(await leftovers(h.container)).toBe('');
    }
  });

  it('falls back to a direct send when a hop is cut mid-transfer, leaving nothing of the cut transfer behind', async () => {
    await Promise.all(HOSTS.map((h) => wipeHost(h.container)));
    const cut = HOSTS[1];
    const sha = app.bumpVersion('relay-cut');
    const run = boxship(['release', '--json'], { cwd: app.dir });
    // Cut the relayed stream on the second host once part of it has arrived (once: the direct send must go through).
    let killed = false;
    for (let i = 0; i < 900 && !killed; i++) {
      const size = Number((await onHost(cut.container, 'stat -c %s /root/.boxship/hello/incoming/recv.*/[0-9]* 2>/dev/null | head -1 || true')).trim() || 0);
      if (size > 1_000_000) {
        await onHost(cut.container, 'pkill -x head; true');
        killed = true;
      } else await new Promise((res) => setTimeout(res, 100));
    }
    expect(killed).toBe(true);
    const r = await run;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/relay from .* failed \(.*\): sending directly/);
    const out = jsonOutput<ReleaseJson>(r);
    const got = out.hosts[1]!;
    expect(got.relayFailed).toBeTruthy();
    expect(got.relayedFrom).toBeUndefined();
    // The direct send: counted by the host as sent, verified, loaded and tagged; the cut copy left nothing.
    expect(got.bytesReceived).toBe(got.bytesSent);
    expect(out.transfer.uplinkBytes).toBe(out.hosts[0]!.bytesSent + got.bytesSent);
    expect(await listedId(cut.container, `hello:${sha}`)).toBe(got.imageId);
    expect(await runsOn(cut.container, `hello:${sha}`)).toBe('hello');
    expect(await leftovers(cut.container)).toBe('');
    expect((await onHost(cut.container, 'docker image ls --format "{{.Repository}}:{{.Tag}}" | sort')).trim().split('\n')).toEqual([`hello:${sha}`]);
  });
});

describe('a host whose disk fills during the transfer', () => {
  it('fails that host at once naming the full disk, before any docker load, and leaves nothing behind', async () => {
    const host = HOSTS[0];
    await wipeHost(host.container);
    const incoming = '/root/.boxship/hello/incoming';
    // A 2 MB disk where the host writes what it receives: the image's layers are far bigger.
    await onHost(host.container, `mkdir -p ${incoming} && mount -t tmpfs -o size=2m tmpfs ${incoming}`);
    try {
      const app = makeExampleApp();
      app.writeConfig({ hosts: [host.address], extraYaml: 'ship: { compression: zstd }' });
      app.commit('zstd, one host');
      const r = await boxship(['release', '--json'], { cwd: app.dir, env: { BOXSHIP_CACHE_DIR: mkdtempSync(join(TEST_STATE, 'cache-')) } });
      expect(r.code).not.toBe(0);
      const out = `${r.stdout}\n${r.stderr}`;
      expect(out).toMatch(/cannot write .*on the host.*: is its disk full\?/);
      expect(out).not.toMatch(/docker load of \S+ failed/);
      expect(await leftovers(host.container)).toBe('');
    } finally {
      await onHost(host.container, `umount ${incoming}; true`);
    }
  });
});
