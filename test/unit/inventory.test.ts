import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { toShell } from '../../src/hosts/command.js';
import { inventory } from '../../src/ship/commands.js';
import { parseInventory } from '../../src/ship/inventory.js';
import { chainIds, planLayers } from '../../src/ship/layers.js';
import { checkPlatform } from '../../src/ship/platform.js';
import { HostError } from '../../src/util/errors.js';

const d = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex')}`;

describe('parseInventory', () => {
  it('reads a classic host: platform, image IDs and the chains of their layers', () => {
    const inv = parseInventory(
      [
        'platform linux/amd64',
        'driver [["Backing Filesystem","extfs"],["Supports d_type","true"]]',
        `image ${d('img1')} ${JSON.stringify([d('base'), d('deps')])}`,
        `image ${d('img2')} null`,
        '',
      ].join('\n'),
    );
    expect(inv.platform).toBe('linux/amd64');
    expect(inv.store).toBe('classic');
    expect([...inv.imageIds]).toEqual([d('img1'), d('img2')]);
    expect(inv.layers).toEqual({ store: 'classic', chains: new Set(chainIds([d('base'), d('deps')])) });
    expect(inv.contentUnavailable).toBeUndefined();
  });

  it('reads a containerd host: its content store decides, not the image layer lists', () => {
    const inv = parseInventory(
      [
        'platform linux/arm64',
        'driver [["driver-type","io.containerd.snapshotter.v1"]]',
        `image ${d('manifest')} ${JSON.stringify([d('base'), d('deps')])}`,
        `blob ${d('base')}`,
        `blob ${d('gzip of deps')}`,
        'blob not-a-digest',
      ].join('\n'),
    );
    expect(inv.store).toBe('containerd');
    expect(inv.layers).toEqual({ store: 'containerd', blobs: new Set([d('base'), d('gzip of deps')]) });
    // deps is in an image's RootFS but held only compressed: it must be sent.
    expect(planLayers([d('base'), d('deps')], inv.layers)).toEqual({ present: [0], missing: [1] });
  });

  it('sends everything to a containerd host whose content store cannot be listed, and says why', () => {
    const inv = parseInventory(
      ['platform linux/amd64', 'driver [["driver-type","io.containerd.snapshotter.v1"]]', `blob ${d('base')}`, 'noblobs ctr: permission denied'].join('\n'),
    );
    expect(inv.contentUnavailable).toBe('ctr: permission denied');
    expect(planLayers([d('base')], inv.layers).missing).toEqual([0]);
  });

  it('lists the content store only on a containerd store, as root or through sudo -n', () => {
    const body = inventory().argv[2]!;
    expect(body).toContain("docker version --format '{{.Server.Os}}/{{.Server.Arch}} {{.Server.Version}}'");
    expect(body).toContain('case "$d" in *io.containerd.snapshotter*)');
    expect(body).toContain('ctr -n moby content ls -q 2>&1) || out=$(sudo -n ctr -n moby content ls -q 2>&1)');
    expect(toShell(inventory())).toMatch(/^sh -c /);
  });
});

describe('checkPlatform', () => {
  it('passes an image built for the host platform', () => {
    expect(() => checkPlatform('h', 'hello:1', { os: 'linux', architecture: 'amd64' }, 'linux/amd64')).not.toThrow();
  });

  it('refuses another architecture with exit 2, naming both platforms and the fix', () => {
    let err: unknown;
    try {
      checkPlatform('root@10.0.0.5', 'hello:1', { os: 'linux', architecture: 'arm64', variant: 'v8' }, 'linux/amd64');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(HostError);
    const e = err as HostError;
    expect(e.message).toBe('root@10.0.0.5: image hello:1 is built for linux/arm64/v8 but the host runs linux/amd64; nothing was sent');
    expect(e.exitCode).toBe(2);
    expect(e.hint).toContain('build.platform: linux/amd64');
  });
});
