import { mkdtempSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultCacheDir, LayerCache } from '../../src/ship/cache.js';
import { chooseCodec } from '../../src/ship/plan-hosts.js';
import { parseRelayOutput } from '../../src/ship/transfer.js';

const digest = (c: string) => `sha256:${c.repeat(64)}`;

async function put(cache: LayerCache, key: string, body: string) {
  const w = await cache.writer('gzip');
  await w.write(Buffer.from(body));
  return w.commit(body.length * 3, key);
}

async function read(cache: LayerCache, e: Parameters<LayerCache['read']>[0]): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of cache.read(e)) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

describe('LayerCache', () => {
  it('stores an entry whole, under its key, found again with its sizes and checked by its digest', async () => {
    const cache = new LayerCache(mkdtempSync(join(tmpdir(), 'boxship-cache-')));
    const e = await put(cache, digest('a'), 'compressed bytes');
    const found = await cache.lookup('gzip', digest('a'));
    expect(found).toMatchObject({ key: digest('a'), size: 48, bytes: 16 });
    expect(await cache.verify(found!)).toBe(true);
    expect(await read(cache, found!)).toBe('compressed bytes');
    expect(e.file).toBe(found!.file);
    expect(readdirSync(join(cache.dir, 'tmp'))).toEqual([]);
    expect(await cache.lookup('zstd', digest('a'))).toBeUndefined();
  });

  it('tells a corrupt entry (same length, other bytes) by its digest, and a torn one (other length) is a miss', async () => {
    const cache = new LayerCache(mkdtempSync(join(tmpdir(), 'boxship-cache-')));
    const e = await put(cache, digest('b'), 'compressed bytes');
    const buf = readFileSync(e.file);
    buf[buf.length - 2] = buf[buf.length - 2]! ^ 1;
    writeFileSync(e.file, buf);
    expect(await cache.verify((await cache.lookup('gzip', digest('b')))!)).toBe(false);
    writeFileSync(e.file, buf.subarray(0, buf.length - 3));
    expect(await cache.lookup('gzip', digest('b'))).toBeUndefined();
  });

  it('lets two writers of one layer race: the last rename wins and the entry is whole', async () => {
    const cache = new LayerCache(mkdtempSync(join(tmpdir(), 'boxship-cache-')));
    const [w1, w2] = await Promise.all([cache.writer('gzip'), cache.writer('gzip')]);
    await Promise.all([w1.write(Buffer.from('same')), w2.write(Buffer.from('same'))]);
    await Promise.all([w1.commit(4, digest('c')), w2.commit(4, digest('c'))]);
    const e = await cache.lookup('gzip', digest('c'));
    expect(await cache.verify(e!)).toBe(true);
    expect(readdirSync(join(cache.dir, 'gzip'))).toHaveLength(1);
  });

  it('prunes entries unused for too long, then the least recently used down to the size bound', async () => {
    const cache = new LayerCache(mkdtempSync(join(tmpdir(), 'boxship-cache-')));
    const now = Date.now();
    const old = await put(cache, digest('d'), 'x'.repeat(100));
    const mid = await put(cache, digest('e'), 'y'.repeat(100));
    const recent = await put(cache, digest('f'), 'z'.repeat(100));
    utimesSync(old.file, new Date(now - 40 * 86_400_000), new Date(now - 40 * 86_400_000));
    utimesSync(mid.file, new Date(now - 2000), new Date(now - 2000));
    const r = await cache.prune({ maxBytes: recent.offset + 100, maxAgeMs: 30 * 86_400_000 }, now);
    expect(r.removed).toBe(2);
    expect(await cache.lookup('gzip', digest('f'))).toBeDefined();
    expect(await cache.lookup('gzip', digest('e'))).toBeUndefined();
  });

  it('lives under BOXSHIP_CACHE_DIR, else XDG_CACHE_HOME, else ~/.cache', () => {
    expect(defaultCacheDir({ BOXSHIP_CACHE_DIR: '/x' })).toBe('/x');
    expect(defaultCacheDir({ XDG_CACHE_HOME: '/c' })).toBe('/c/boxship/layers');
    expect(defaultCacheDir({})).toMatch(/\.cache\/boxship\/layers$/);
  });
});

describe('chooseCodec', () => {
  const d20 = { version: '20.10.24+dfsg1' };
  const d26 = { version: '26.1.5+dfsg1' };
  it('picks zstd only when every host loads it and zstd is here; gzip otherwise; the setting wins', () => {
    expect(chooseCodec('auto', [d26, d26], true).codec).toBe('zstd');
    expect(chooseCodec('auto', [d26, d20], true).codec).toBe('gzip');
    expect(chooseCodec('auto', [d26], false).codec).toBe('gzip');
    expect(chooseCodec('zstd', [d20], true)).toMatchObject({ codec: 'gzip', why: expect.stringMatching(/older than 23/) });
    expect(chooseCodec('none', [d26], true).codec).toBe('none');
    expect(chooseCodec('gzip', [d26], true).codec).toBe('gzip');
  });
});

describe('parseRelayOutput', () => {
  it('unwraps what each hop printed, nested hops included', () => {
    const out = ['part=1 10', 'bytes=10', 'id=sha256:aa', '@h1 part=1 10', '@h1 @h2 bytes=10', '@h1 @h2 rc=0', '@h1 bytes=10', '@h1 rc=0'].join('\n');
    const r = parseRelayOutput(out);
    expect(r.own).toContain('bytes=10');
    expect(r.hosts.get('h1')!.lines).toEqual(['part=1 10', 'bytes=10', 'rc=0']);
    expect(r.hosts.get('h2')!.lines).toEqual(['bytes=10', 'rc=0']);
  });
});
