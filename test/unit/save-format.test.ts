import { describe, expect, it } from 'vitest';
import { compressionOf, saveLayout } from '../../src/ship/save-format.js';

const reader = (files: Record<string, unknown>) => (p: string) => (p in files ? Buffer.from(JSON.stringify(files[p])) : undefined);
const h = (c: string) => c.repeat(64);

describe('saveLayout', () => {
  it('reads the legacy layout of Docker 20.10 (v1 folders)', () => {
    const read = reader({ 'manifest.json': [{ Config: `${h('c')}.json`, RepoTags: null, Layers: ['aaa/layer.tar', 'bbb/layer.tar'] }] });
    expect(saveLayout(read)).toEqual({ configPath: `${h('c')}.json`, layerPaths: ['aaa/layer.tar', 'bbb/layer.tar'] });
  });

  it('reads the OCI layout with manifest.json that Docker 25+ writes on either store', () => {
    const read = reader({
      'manifest.json': [{ Config: `blobs/sha256/${h('c')}`, RepoTags: ['hello:1'], Layers: [`blobs/sha256/${h('1')}`] }],
      'index.json': { manifests: [] },
    });
    expect(saveLayout(read)).toEqual({ configPath: `blobs/sha256/${h('c')}`, layerPaths: [`blobs/sha256/${h('1')}`] });
  });

  it('follows index.json through an image index, skipping attestation manifests, when there is no manifest.json', () => {
    const read = reader({
      'index.json': { manifests: [{ mediaType: 'application/vnd.oci.image.index.v1+json', digest: `sha256:${h('i')}` }] },
      [`blobs/sha256/${h('i')}`]: {
        manifests: [
          { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${h('m')}`, platform: { os: 'linux', architecture: 'amd64' } },
          { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${h('a')}`, platform: { os: 'unknown', architecture: 'unknown' } },
        ],
      },
      [`blobs/sha256/${h('m')}`]: { config: { digest: `sha256:${h('c')}` }, layers: [{ digest: `sha256:${h('1')}` }, { digest: `sha256:${h('2')}` }] },
    });
    expect(saveLayout(read)).toEqual({ configPath: `blobs/sha256/${h('c')}`, layerPaths: [`blobs/sha256/${h('1')}`, `blobs/sha256/${h('2')}`] });
  });

  it('refuses a save of several images', () => {
    expect(() =>
      saveLayout(
        reader({
          'manifest.json': [
            { Config: 'a', Layers: [] },
            { Config: 'b', Layers: [] },
          ],
        }),
      ),
    ).toThrow(/holds 2 images, expected 1/);
    expect(() => saveLayout(reader({}))).toThrow(/no index.json/);
  });
});

describe('compressionOf', () => {
  it('tells gzip and zstd blobs from a plain tar', () => {
    expect(compressionOf(Buffer.from([0x1f, 0x8b, 8, 0]))).toBe('gzip');
    expect(compressionOf(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))).toBe('zstd');
    expect(compressionOf(Buffer.from('app/'))).toBe('none');
    expect(compressionOf(Buffer.alloc(0))).toBe('none');
  });
});
