/**
 * shipImage's relay fallbacks over scripted hosts (the image from a stand-in ImageSource, its layers from a cache in
 * a temp dir, so no docker save runs): a member the head's probe cannot reach, and a head whose send fails, both end
 * in a direct send to the member, and the member's result says why the relay failed.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { LayerCache } from '../../src/ship/cache.js';
import type { ImageSource } from '../../src/ship/deployer.js';
import { shipImageFrom } from '../../src/ship/ship-image.js';
import type { ProgressEvent } from '../../src/util/events.js';
import { hostConfig, type Rule, ScriptedRunner } from '../helpers/scripted-runner.js';

const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const KEY = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.alloc(36, 7)]);

const dir = mkdtempSync(join(tmpdir(), 'boxship-ship-'));
writeFileSync(join(dir, 'Dockerfile'), 'FROM scratch\n');
const config = parseConfig(
  ['service: hello', 'hosts: [root@web-a, root@web-b, root@web-c]', 'ship: { compression: gzip }'].join('\n'),
  join(dir, 'boxship.yml'),
);

const diffIds = [sha('layer one'), sha('layer two')];
const imageConfig = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: diffIds } }));
const imageId = sha(imageConfig);
const image = { imageId, ref: `hello:${'a'.repeat(40)}`, tag: 'a'.repeat(40), sha: 'a'.repeat(40) };

/** The image as the deployer's engine would describe it; a save would mean the cache was not used. */
const images: ImageSource & { saves: number } = {
  saves: 0,
  inspect: async () => ({ diffIds, platform: { os: 'linux', architecture: 'amd64' } }),
  save: async () => {
    images.saves++;
    throw new Error('no docker save expected: the cache holds the image');
  },
};

/** The IDs the deployer expects the image to show, from the end of what it streamed to a host. */
const expectedIds = (stdin?: Buffer) => /end (\S+) (\S+)\n$/.exec(stdin?.toString('latin1') ?? '')?.slice(1) ?? [];

/** A host with no images that loads whatever it is sent and shows the ID the deployer expects (classic store). */
function host(name: string, ...rules: Rule[]): ScriptedRunner {
  return new ScriptedRunner(hostConfig(name), [
    { match: /^list the images and layers the host already has$/, answer: { stdout: 'platform linux/amd64 26.1.5\ndriver []\n' } },
    // On the classic store the image's ID is its config digest: what a host that loaded it lists.
    { match: /^check that \S+ is on the host$/, answer: { stdout: `${imageId}\n` } },
    {
      match: /^receive, check and load the image, tag it \S+$/,
      answer: (_c, _l, stdin) => ({ stdout: `part=1 ${stdin?.length ?? 0}\nbytes=${stdin?.length ?? 0}\nid=${expectedIds(stdin)[0]}\n` }),
    },
    ...rules,
  ])
    .withHostKey(KEY)
    .readStdin();
}

/** A head's answer to a relayed send: it loaded the image, and so did the hop to h1 (as the head reports it). */
const hopLoaded: Rule['answer'] = (_c, _l, stdin) => {
  const [classic] = expectedIds(stdin);
  const n = stdin?.length ?? 0;
  return { stdout: `part=1 ${n}\nbytes=${n}\nid=${classic}\n@h1 part=1 ${n}\n@h1 bytes=${n}\n@h1 id=${classic}\n@h1 rc=0\n` };
};

const receives = (h: ScriptedRunner) => h.whys().filter((w) => w.startsWith('receive, check and load'));

async function ship(hosts: ScriptedRunner[], relayAgent: 'forward' | 'off' = config.ship.relayAgent) {
  const events: ProgressEvent[] = [];
  const summary = await shipImageFrom(images, {
    config: { ...config, ship: { ...config.ship, relayAgent } },
    image,
    connections: hosts.map((ssh) => ({ host: ssh.config, ssh })),
    report: (e) => events.push(e),
    recordRelease: false,
  });
  return { summary, events, byHost: new Map(summary.hosts.map((r) => [r.host, r])) };
}

describe('shipImage relays', () => {
  beforeEach(async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'boxship-ship-cache-'));
    vi.stubEnv('BOXSHIP_CACHE_DIR', cacheDir);
    const cache = new LayerCache(cacheDir);
    // Layers big enough to be worth a relay hop (their uncompressed sizes are what counts), and the image config.
    for (const d of diffIds) {
      const w = await cache.writer('gzip', d);
      await w.write(gzipSync(d));
      await w.commit(20 << 20);
    }
    const w = await cache.writer('config', imageId);
    await w.write(imageConfig);
    await w.commit(imageConfig.length);
    images.saves = 0;
  });
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('sends directly to a member the head cannot reach, saying why, and relays to the one it can', async () => {
    const a = host(
      'web-a',
      { match: /over SSH \(relay\)$/, answer: { stdout: 'ok h1\nfail h2 Permission denied (publickey).\n' } },
      { match: /relaying to h1$/, answer: hopLoaded },
    );
    const b = host('web-b');
    const c = host('web-c');
    const { summary, byHost } = await ship([a, b, c]);
    expect(summary.hosts.every((r) => r.ok)).toBe(true);
    expect(images.saves).toBe(0);
    expect(byHost.get('web-a')).toMatchObject({ relayedTo: ['web-b'] });
    expect(byHost.get('web-b')).toMatchObject({ relayedFrom: 'web-a', layersSent: 2 });
    expect(byHost.get('web-b')!.relayFailed).toBeUndefined();
    expect(byHost.get('web-c')).toMatchObject({ relayFailed: 'Permission denied (publickey).', layersSent: 2 });
    expect(byHost.get('web-c')!.relayedFrom).toBeUndefined();
    expect(receives(b)).toEqual([]);
    expect(receives(c)).toEqual([`receive, check and load the image, tag it ${image.ref}`]);
    expect(byHost.get('web-b')!.imageId).toBe(byHost.get('web-c')!.imageId);
    // No overall time limit on a transfer, but a host that takes nothing for two minutes has stalled.
    for (const h of [a, c]) expect(h.ran.filter((r) => r.why.startsWith('receive, check')).map((r) => r.stallMs)).toEqual([120_000]);
  });

  it('sends directly to a relayed host that lacks the image, whatever its head reported', async () => {
    const a = host(
      'web-a',
      { match: /over SSH \(relay\)$/, answer: { stdout: 'ok h1\n' } },
      // The head says the hop loaded the image; the member never got it.
      { match: /relaying to h1$/, answer: hopLoaded },
    );
    const b = host('web-b').on({ match: /^check that \S+ is on the host$/, answer: { stdout: '' } });
    const { summary, byHost } = await ship([a, b]);
    expect(summary.hosts.every((r) => r.ok)).toBe(true);
    expect(receives(b)).toEqual([`receive, check and load the image, tag it ${image.ref}`]);
    expect(byHost.get('web-b')!.relayedFrom).toBeUndefined();
    expect(byHost.get('web-b')!.relayFailed).toBe(`web-a reported it loaded, but this host lists no image for ${image.ref}`);
  });

  it("lends the deployer's agent to the relay's own commands only with ship.relay_agent forward", async () => {
    const hop = (_c: unknown, _l: string, stdin?: Buffer) => {
      const [classic] = expectedIds(stdin);
      const n = stdin?.length ?? 0;
      return { stdout: `part=1 ${n}\nbytes=${n}\nid=${classic}\n@h1 part=1 ${n}\n@h1 bytes=${n}\n@h1 id=${classic}\n@h1 rc=0\n` };
    };
    const head = () => host('web-a', { match: /over SSH \(relay\)$/, answer: { stdout: 'ok h1\n' } }, { match: /relaying to h1$/, answer: hop });
    const lent = (h: ScriptedRunner) => h.ran.filter((r) => r.agentForward).map((r) => r.why);
    const off = [head(), host('web-b')];
    expect((await ship(off)).summary.hosts.every((r) => r.ok)).toBe(true);
    expect(off.map(lent)).toEqual([[], []]);
    const on = [head(), host('web-b')];
    expect((await ship(on, 'forward')).byHost.get('web-b')).toMatchObject({ relayedFrom: 'web-a' });
    expect(lent(on[0]!)).toEqual([expect.stringMatching(/over SSH \(relay\)$/), expect.stringMatching(/relaying to h1$/)]);
    expect(lent(on[1]!)).toEqual([]);
  });

  it('sends directly to every member when the head fails mid-send, and each result says relayFailed', async () => {
    const a = host(
      'web-a',
      { match: /over SSH \(relay\)$/, answer: { stdout: 'ok h1\nok h2\n' } },
      { match: /relaying to h1$/, answer: { code: 3, stderr: 'part 1 is 512 bytes, expected 4096: the transfer was cut' } },
    );
    const b = host('web-b');
    const c = host('web-c');
    const { byHost, events } = await ship([a, b, c]);
    expect(byHost.get('web-a')!.ok).toBe(false);
    expect(byHost.get('web-a')!.error?.message).toMatch(/the transfer was cut/);
    expect(a.whys().filter((w) => w.includes('relaying to'))).toEqual([`receive, check and load the image, tag it ${image.ref}, relaying to h1`]);
    for (const [h, name] of [
      [b, 'web-b'],
      [c, 'web-c'],
    ] as const) {
      expect(byHost.get(name)).toMatchObject({ ok: true, relayFailed: 'no answer from the relay hop', layersSent: 2 });
      expect(byHost.get(name)!.relayedFrom).toBeUndefined();
      expect(receives(h)).toEqual([`receive, check and load the image, tag it ${image.ref}`]);
      expect(events).toContainEqual(expect.objectContaining({ kind: 'warning', host: name, message: expect.stringMatching(/^relay from web-a failed/) }));
    }
  });
});
