import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type ArchiveEntry, expectedImageId, fullImageName, thinArchive } from '../../src/ship/archive.js';

const d = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex')}`;
const hex = (digest: string) => digest.slice(7);
const config = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["x"]}}');
const image = {
  config,
  layers: [
    { diffId: d('base'), size: 1000 },
    { diffId: d('deps'), size: 2000 },
    { diffId: d('app'), size: 3000 },
  ],
};
const name = { repository: 'boxship-incoming', tag: 'hello-1a2b' };
const parse = (e: ArchiveEntry | undefined) => JSON.parse((e as { data: Buffer }).data.toString());
const byPath = (entries: ArchiveEntry[], path: string) => entries.find((e) => e.path === path);

describe('thinArchive', () => {
  const a = thinArchive(image, [2], name);

  it('holds oci-layout, config, only the missing layers, the manifest, index.json and manifest.json, in that order', () => {
    expect(a.entries.map((e) => e.path)).toEqual([
      'oci-layout',
      `blobs/sha256/${hex(a.configDigest)}`,
      `blobs/sha256/${hex(d('app'))}`,
      `blobs/sha256/${hex(a.manifestDigest)}`,
      'index.json',
      'manifest.json',
    ]);
    expect(parse(a.entries[0])).toEqual({ imageLayoutVersion: '1.0.0' });
    expect(a.entries[2]).toEqual({ path: `blobs/sha256/${hex(d('app'))}`, layer: 2, size: 3000 });
  });

  it('keeps the config bytes exactly: its sha256 is the classic image ID', () => {
    const e = byPath(a.entries, `blobs/sha256/${hex(a.configDigest)}`) as { data: Buffer };
    expect(e.data).toBe(config);
    expect(a.configDigest).toBe(`sha256:${createHash('sha256').update(config).digest('hex')}`);
  });

  it('lists every layer in the OCI manifest, uncompressed, by diffID with its exact size, sent or not', () => {
    const m = parse(byPath(a.entries, `blobs/sha256/${hex(a.manifestDigest)}`));
    expect(m).toEqual({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: a.configDigest, size: config.length },
      layers: [
        { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: d('base'), size: 1000 },
        { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: d('deps'), size: 2000 },
        { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: d('app'), size: 3000 },
      ],
    });
    const blob = (byPath(a.entries, `blobs/sha256/${hex(a.manifestDigest)}`) as { data: Buffer }).data;
    expect(a.manifestDigest).toBe(`sha256:${createHash('sha256').update(blob).digest('hex')}`);
  });

  it('annotates the index entry with the image name containerd uses and the platform', () => {
    const index = parse(byPath(a.entries, 'index.json'));
    expect(index.manifests).toEqual([
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: a.manifestDigest,
        size: (byPath(a.entries, `blobs/sha256/${hex(a.manifestDigest)}`) as { data: Buffer }).data.length,
        platform: { os: 'linux', architecture: 'amd64' },
        annotations: { 'io.containerd.image.name': 'docker.io/library/boxship-incoming:hello-1a2b', 'org.opencontainers.image.ref.name': 'hello-1a2b' },
      },
    ]);
  });

  it('writes the legacy manifest.json for classic stores, naming every layer blob', () => {
    expect(parse(byPath(a.entries, 'manifest.json'))).toEqual([
      {
        Config: `blobs/sha256/${hex(a.configDigest)}`,
        RepoTags: ['boxship-incoming:hello-1a2b'],
        Layers: [d('base'), d('deps'), d('app')].map((x) => `blobs/sha256/${hex(x)}`),
      },
    ]);
  });

  it('gives every host the same manifest, whatever it lacks, so containerd hosts agree on the image ID', () => {
    const all = thinArchive(image, [0, 1, 2], { repository: 'boxship-incoming', tag: 'other' });
    expect(all.manifestDigest).toBe(a.manifestDigest);
    expect(all.entries.filter((e) => 'layer' in e).map((e) => (e as { layer: number }).layer)).toEqual([0, 1, 2]);
    expect(expectedImageId(a, 'containerd')).toBe(a.manifestDigest);
    expect(expectedImageId(a, 'classic')).toBe(a.configDigest);
  });

  it('sends a blob shared by identical layers once, if any of them is missing', () => {
    const empty = { diffId: d('empty'), size: 1024 };
    const dup = thinArchive({ config, layers: [image.layers[0]!, empty, image.layers[2]!, empty] }, [3, 1], name);
    expect(dup.entries.filter((e) => 'layer' in e)).toEqual([{ path: `blobs/sha256/${hex(d('empty'))}`, layer: 1, size: 1024 }]);
  });

  it('sends no layer when the host has them all', () => {
    expect(thinArchive(image, [], name).entries.some((e) => 'layer' in e)).toBe(false);
  });

  it('refuses a layer index the image does not have', () => {
    expect(() => thinArchive(image, [3], name)).toThrow(/layer 3 does not exist/);
  });
});

describe('fullImageName', () => {
  it('names images as containerd does', () => {
    expect(fullImageName({ repository: 'hello', tag: 't' })).toBe('docker.io/library/hello:t');
    expect(fullImageName({ repository: 'acme/hello', tag: 't' })).toBe('docker.io/acme/hello:t');
    expect(fullImageName({ repository: 'registry.example.com:5000/hello', tag: 't' })).toBe('registry.example.com:5000/hello:t');
    expect(fullImageName({ repository: 'localhost/hello', tag: 't' })).toBe('localhost/hello:t');
  });
});
