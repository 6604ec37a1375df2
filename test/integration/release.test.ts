/**
 * `boxship release` against two simulated hosts (docker-in-docker + sshd, reached only over SSH).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { compressedOnly, loadGzipped } from '../helpers/compressed.js';
import { makeExampleApp, type ExampleApp } from '../helpers/example.js';
import { HOSTS, knownName, TEST_KNOWN_HOSTS } from '../helpers/paths.js';
import { boxship, jsonOutput, onHost, wipeHost } from '../helpers/run.js';

interface ReleaseJson {
  tag: string;
  imageId: string;
  fullImageBytes?: number;
  hosts: {
    host: string;
    ok: boolean;
    error?: string;
    store: string;
    imageId: string;
    bytesSent: number;
    bytesReceived: number;
    layersSent: number;
    layersSkipped: number;
  }[];
}

const hostImageId = async (container: string, ref: string) =>
  (await onHost(container, `docker image inspect --format '{{.Id}}' ${ref} 2>/dev/null || true`)).trim();
/** What `docker images` lists for ref: a loaded image the store cannot resolve is hidden there (containerd store). */
const listedId = async (container: string, ref: string) => (await onHost(container, `docker image ls --no-trunc --format '{{.ID}}' ${ref}`)).trim();
/** The image starts and its code runs (no registry: --pull never). */
const runsOn = async (container: string, ref: string) =>
  (await onHost(container, `docker run --rm --pull never ${ref} node -e "console.log(require('./package.json').name)"`)).trim();

/** Every host holds the release under its tag, listed, with the ID its store gives it, and the image runs. */
async function expectReleased(r: ReleaseJson): Promise<void> {
  for (const [i, h] of HOSTS.entries()) {
    const got = r.hosts[i]!;
    expect(got.store).toBe(h.store);
    // Classic stores keep the local image ID (config digest); containerd ones name it by the manifest boxship wrote.
    if (h.store === 'classic') expect(got.imageId).toBe(r.imageId);
    else expect(got.imageId).not.toBe(r.imageId);
    expect(await hostImageId(h.container, r.tag)).toBe(got.imageId);
    expect(await listedId(h.container, r.tag)).toBe(got.imageId);
    expect(await runsOn(h.container, r.tag)).toBe('hello');
    // Nothing is left under the name the upload was loaded as before the checks.
    expect((await onHost(h.container, 'docker image ls -q boxship-incoming')).trim()).toBe('');
  }
  // containerd hosts agree on the ID: every host gets the same manifest.
  const ctrd = r.hosts.filter((h) => h.store === 'containerd').map((h) => h.imageId);
  expect(new Set(ctrd).size).toBeLessThanOrEqual(1);
}

describe('boxship release', () => {
  let app: ExampleApp;
  let first: ReleaseJson;

  beforeAll(async () => {
    await Promise.all(HOSTS.map((h) => wipeHost(h.container)));
    app = makeExampleApp();
  });

  it('lands the image, with its labels, listed and runnable on every host of the mixed fleet', async () => {
    const r = await boxship(['release', '--json'], { cwd: app.dir });
    expect(r.code, r.stderr).toBe(0);
    first = jsonOutput<ReleaseJson>(r);
    expect(first.hosts.map((h) => h.ok)).toEqual(HOSTS.map(() => true));
    const sha = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: app.dir, encoding: 'utf8' }).trim();
    expect(first.tag).toBe(`hello:${sha}`);
    await expectReleased(first);
    for (const [i, h] of HOSTS.entries()) {
      const labels = JSON.parse(await onHost(h.container, `docker image inspect --format '{{json .Config.Labels}}' ${first.tag}`));
      expect(labels['org.opencontainers.image.revision']).toBe(sha);
      expect(JSON.parse(labels['dev.boxship.lockfiles'])[0].path).toBe('package-lock.json');
      expect(JSON.parse(labels['dev.boxship.base-images'])[0].id).toMatch(/^sha256:[0-9a-f]{64}$/);
      // The ledger on the host records the release.
      const ledger = await onHost(h.container, 'cat /root/.boxship/hello/releases.jsonl');
      expect(JSON.parse(ledger.trim().split('\n').pop()!).imageId).toBe(first.hosts[i]!.imageId);
      // Nothing is left in the upload area.
      expect((await onHost(h.container, 'ls /root/.boxship/hello/incoming')).trim()).toBe('');
    }
    // Compressed on the wire: well under the uncompressed image; and the host counted what boxship says it sent.
    for (const h of first.hosts) {
      expect(h.bytesSent).toBeLessThan(first.fullImageBytes! * 0.5);
      expect(h.bytesReceived).toBe(h.bytesSent);
    }
  });

  it('ships one layer, under 1% of the first release, after a code-only change, on either store', async () => {
    app.bumpVersion('2');
    const r = await boxship(['release', '--json'], { cwd: app.dir });
    expect(r.code, r.stderr).toBe(0);
    const second = jsonOutput<ReleaseJson>(r);
    for (const [i, h] of second.hosts.entries()) {
      const before = first.hosts[i]!;
      expect(h.ok).toBe(true);
      expect(h.bytesSent).toBeLessThan(before.bytesSent * 0.01);
      // What the host itself counted, not only our own count.
      expect(h.bytesReceived).toBe(h.bytesSent);
      expect(h.layersSent).toBe(1);
    }
    await expectReleased(second);
    const list = jsonOutput<{ host: string; releases: { tag: string; present: boolean }[] }[]>(await boxship(['releases', '--json'], { cwd: app.dir }));
    expect(list.map((l) => l.releases.map((x) => x.present))).toEqual(HOSTS.map(() => [true, true]));
    expect(list[0]!.releases[0]!.tag).toBe(second.tag.slice('hello:'.length));
  });

  it('reports an unreachable host with a non-zero exit while the other host still gets the image', async () => {
    app.writeConfig({ hosts: [HOSTS[0].address, 'root@127.0.0.1:2299'] });
    app.bumpVersion('3');
    const r = await boxship(['release', '--json'], { cwd: app.dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('root@127.0.0.1:2299: connection refused');
    expect(r.stderr).toMatch(/hint: .*sshd/);
    const out = jsonOutput<ReleaseJson>(r);
    expect(await hostImageId(HOSTS[0].container, out.tag)).toBe(out.hosts[0]!.imageId);
    app.writeConfig();
    app.commit('restore config');
  });

  it('refuses a host whose key does not match known_hosts, and changes nothing there', async () => {
    const wrong = join(app.dir, '..', `known_hosts_wrong_${Date.now()}`);
    const keyDir = execFileSync('mktemp', ['-d'], { encoding: 'utf8' }).trim();
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(keyDir, 'k')]);
    const fake = readFileSync(join(keyDir, 'k.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
    const real = readFileSync(TEST_KNOWN_HOSTS, 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith(`${knownName(HOSTS[1])} `));
    writeFileSync(wrong, `${[...real, `${knownName(HOSTS[1])} ${fake}`].join('\n')}\n`);
    app.writeConfig({ knownHosts: wrong });
    const sha = app.bumpVersion('4');
    const r = await boxship(['release'], { cwd: app.dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${HOSTS[1].address}: HOST KEY CHANGED`);
    expect(r.stderr).toContain(`${wrong}:${real.length + 1}`);
    expect(await hostImageId(HOSTS[1].container, `hello:${sha}`)).toBe('');
    expect(await hostImageId(HOSTS[0].container, `hello:${sha}`)).not.toBe('');

    // An unknown host is refused too, unless the user accepts new keys explicitly.
    writeFileSync(wrong, `${real.join('\n')}\n`);
    const unknown = await boxship(['release', '--host', `127.0.0.1:${HOSTS[1].sshPort}`], { cwd: app.dir });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('unknown host key SHA256:');
    const accepted = await boxship(['release', '--host', `127.0.0.1:${HOSTS[1].sshPort}`, '--accept-new-host-keys'], { cwd: app.dir });
    expect(accepted.code, accepted.stderr).toBe(0);
    expect(readFileSync(wrong, 'utf8')).toContain(`${knownName(HOSTS[1])} ssh-ed25519 `);
    app.writeConfig();
    app.commit('restore config');
  });

  it('rejects malformed YAML with file:line and exit 2, touching nothing', async () => {
    const file = join(app.dir, 'boxship.yml');
    const good = readFileSync(file, 'utf8');
    writeFileSync(file, good.replace('instances: 1', 'instances: [1'));
    const r = await boxship(['release'], { cwd: app.dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/boxship\.yml:\d+:\d+/);
    writeFileSync(file, good);
  });

  it('refuses an unpinned FROM before building anything', async () => {
    app.writeConfig({ pins: null });
    const sha = app.commit('unpinned');
    const r = await boxship(['release'], { cwd: app.dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Dockerfile:\d+/);
    expect(r.stderr).toContain('node:20-bookworm-slim');
    expect(execFileSync('docker', ['image', 'ls', '-q', `hello:${sha}`], { encoding: 'utf8' }).trim()).toBe('');
    for (const h of HOSTS) expect(await hostImageId(h.container, `hello:${sha}`)).toBe('');
    app.writeConfig();
    app.commit('pinned again');
  });

  it('leaves no tag when the SSH channel is killed mid-transfer, and a rerun finishes', async () => {
    const host = HOSTS[0];
    await wipeHost(host.container); // a first release: big enough to cut half-way
    const sha = app.bumpVersion('5');
    const run = boxship(['release', '--host', host.address], { cwd: app.dir });
    // Wait until the upload is under way on the host, then kill the receiving end.
    let killed = false;
    for (let i = 0; i < 600 && !killed; i++) {
      const size = Number((await onHost(host.container, 'stat -c %s /root/.boxship/hello/incoming/recv.*/[0-9]* 2>/dev/null | head -1 || true')).trim() || 0);
      if (size > 1_000_000) {
        // The receiving end of the part on the wire.
        await onHost(host.container, 'pkill -x head; true');
        killed = true;
      } else await new Promise((r) => setTimeout(r, 100));
    }
    expect(killed).toBe(true);
    const r = await run;
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(host.address);
    expect(await hostImageId(host.container, `hello:${sha}`)).toBe('');
    expect((await onHost(host.container, 'ls /root/.boxship/hello/incoming 2>/dev/null || true')).trim()).toBe('');

    const again = await boxship(['release', '--host', host.address, '--json'], { cwd: app.dir });
    expect(again.code, again.stderr).toBe(0);
    expect(await hostImageId(host.container, `hello:${sha}`)).toBe(jsonOutput<ReleaseJson>(again).hosts[0]!.imageId);
  });
});

describe('boxship release to a containerd store that holds layers only compressed', () => {
  const host = HOSTS.find((h) => h.store === 'containerd');

  it.runIf(host)('sends those layers (their blob digest is not the diffID): the image is listed and runs', async () => {
    const h = host!;
    await wipeHost(h.container);
    // The base image arrives as a registry pull leaves it: every layer a gzip blob, labelled with its diffID.
    await loadGzipped(h.container, 'node:20-bookworm-slim');
    const base = JSON.parse(
      execFileSync('docker', ['image', 'inspect', '--format', '{{json .RootFS.Layers}}', 'node:20-bookworm-slim'], { encoding: 'utf8' }),
    ) as string[];
    const held = compressedOnly(h.container);
    const blobs = (await onHost(h.container, 'ctr -n moby content ls -q')).split('\n');
    // Precondition: the host's images list these layers, but its store has them only under other digests.
    expect(JSON.parse(await onHost(h.container, "docker image inspect --format '{{json .RootFS.Layers}}' node:20-bookworm-slim"))).toEqual(base);
    for (const d of base) {
      expect(held.has(d), d).toBe(true);
      expect(blobs, d).not.toContain(d);
    }

    const app = makeExampleApp();
    app.writeConfig({ hosts: [h.address] });
    app.commit('the containerd host only');
    const r = await boxship(['release', '--json'], { cwd: app.dir });
    expect(r.code, r.stderr).toBe(0);
    const out = jsonOutput<ReleaseJson>(r);
    const layers = (JSON.parse(execFileSync('docker', ['image', 'inspect', '--format', '{{json .RootFS.Layers}}', out.tag], { encoding: 'utf8' })) as string[])
      .length;
    expect(out.hosts[0]).toMatchObject({ ok: true, store: 'containerd', layersSent: layers, layersSkipped: 0 });
    expect(await listedId(h.container, out.tag)).toBe(out.hosts[0]!.imageId);
    expect(await runsOn(h.container, out.tag)).toBe('hello');

    // From now on the store holds them uncompressed (boxship sent them so): a code change sends one layer.
    app.bumpVersion('after compressed');
    const again = jsonOutput<ReleaseJson>(await boxship(['release', '--json'], { cwd: app.dir }));
    expect(again.hosts[0]).toMatchObject({ ok: true, layersSent: 1 });
    expect(await runsOn(h.container, again.tag)).toBe('hello');
  });
});
