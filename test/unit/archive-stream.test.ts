import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extract } from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { thinArchive } from '../../src/ship/archive.js';
import { archiveStream } from '../../src/ship/transfer.js';

const dir = mkdtempSync(join(tmpdir(), 'boxship-unit-archive-'));
const layer = (name: string, body: string) => {
  const file = join(dir, name);
  writeFileSync(file, body);
  return { diffId: 'sha256:' + createHash('sha256').update(body).digest('hex'), size: Buffer.byteLength(body), file };
};

describe('archiveStream', () => {
  it('writes exactly the entries of the layout, layer files read from the spool', async () => {
    const layers = [layer('base', 'base layer bytes'), layer('app', 'app layer bytes, longer')];
    const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
    const archive = thinArchive({ config, layers }, [1], { repository: 'boxship-incoming', tag: 't' });
    const got: { name: string; body: string }[] = [];
    const ex = extract();
    ex.on('entry', (h, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => chunks.push(c as Buffer));
      stream.on('end', () => {
        got.push({ name: h.name, body: Buffer.concat(chunks).toString() });
        next();
      });
    });
    const done = new Promise<void>((res, rej) => ex.on('finish', () => res()).on('error', rej));
    archiveStream(archive, layers).pipe(ex);
    await done;
    expect(got.map((e) => e.name)).toEqual(archive.entries.map((e) => e.path));
    expect(got[2]).toEqual({ name: `blobs/sha256/${layers[1]!.diffId.slice(7)}`, body: 'app layer bytes, longer' });
    expect(got[1]!.body).toBe(config.toString());
    expect(got.some((e) => e.body === 'base layer bytes')).toBe(false);
  });

  it('fails the stream when a layer file is gone', async () => {
    const missing = { diffId: `sha256:${'0'.repeat(64)}`, size: 5, file: join(dir, 'nope') };
    const archive = thinArchive({ config: Buffer.from('{}'), layers: [missing] }, [0], { repository: 'x', tag: 't' });
    const s = archiveStream(archive, [missing]);
    await expect(new Promise<void>((res, rej) => s.on('error', rej).on('end', () => res()).resume())).rejects.toThrow(/ENOENT/);
  });
});
