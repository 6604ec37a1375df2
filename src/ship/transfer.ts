/**
 * Sends one host what it lacks, in one round trip (commands.ts receiveAndLoad): the parts of wire.ts, each layer body
 * read from the cache as compressed once for all hosts, this host's tar headers and manifests compressed on the fly.
 * A part goes out as soon as its layers are ready, so hosts start receiving while later layers are still being
 * saved and compressed. Every part's size and sha256 travel with it and are checked on the host before it loads.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Runner } from '../hosts/runner.js';
import { debug } from '../util/debug.js';
import { HostError } from '../util/errors.js';
import { type ArchiveImage, type ArchiveName, expectedImageId } from './archive.js';
import type { CacheEntry } from './cache.js';
import { receiveAndLoad } from './commands.js';
import { compressSmall } from './compress.js';
import type { LayerSupply } from './supply.js';
import { archivePieces, endsPart, partArchive } from './wire.js';

/** The repository every upload is loaded under before it is checked (see receiveAndLoad). */
export const INCOMING_REPOSITORY = 'boxship-incoming';

export function incomingName(service: string): ArchiveName {
  return { repository: INCOMING_REPOSITORY, tag: `${service.replace(/[^A-Za-z0-9_.-]/g, '_')}-${randomBytes(4).toString('hex')}` };
}

export interface TransferResult {
  /** Compressed bytes boxship sent (part payloads). */
  bytesSent: number;
  /** Bytes the host says it received. */
  bytesReceived: number;
  /** Parts (separate loads) the image went in. */
  parts: number;
}

export interface HostWireOptions {
  /** Indexes (bottom = 0) of the layers the host lacks. */
  missing: number[];
  name: ArchiveName;
  platform: { os: string; architecture: string; variant?: string };
  /** The host's image store: which ID the loaded image must show (archive.ts expectedImageId). */
  store: 'classic' | 'containerd';
  /** Counts every payload byte as it is produced. */
  onBytes?: (sent: number) => void;
}

/**
 * The byte stream a host gets: `part <n> <name>\n`, n payload bytes, `sum <sha256>\n` per part, then
 * `end <image id>\n` (the ID the loaded image must show, known once the final part is put together).
 * `counted()` says how many payload bytes (framing lines excluded) went out, and how many parts.
 */
export function hostWire(supply: LayerSupply, opts: HostWireOptions): { stream: Readable; counted(): { bytes: number; parts: number }; expectedId(): string } {
  let bytes = 0;
  let parts = 0;
  let expectedId = '';
  const diffIds = supply.diffIds;
  const missing = [...new Set(opts.missing)].sort((a, b) => a - b);

  async function* part(layers: number[], final: boolean): AsyncGenerator<Buffer> {
    const top = final ? diffIds.length - 1 : Math.max(...layers);
    const sizes = await Promise.all(diffIds.slice(0, top + 1).map((d) => supply.size(d)));
    const image: ArchiveImage = {
      config: final ? await supply.config() : Buffer.alloc(0),
      layers: diffIds.slice(0, top + 1).map((diffId, i) => ({ diffId, size: sizes[i]! })),
    };
    parts++;
    const { name, archive } = partArchive(image, layers, opts.name, final ? { final: true } : { final: false, index: parts, platform: opts.platform });
    type Out = { data: Buffer; entry?: undefined } | { data?: undefined; entry: CacheEntry };
    const pieces = await Promise.all(
      archivePieces(archive).map(async (p): Promise<Out> => ('data' in p ? { data: compressSmall(supply.codec, p.data) } : { entry: await supply.layer(diffIds[p.layer]!) })),
    );
    if (final) expectedId = expectedImageId(archive, opts.store);
    const n = pieces.reduce((s, p) => s + (p.data ? p.data.length : p.entry.bytes), 0);
    debug(`part ${parts} (${layers.length} layers, ${n} bytes${final ? ', final' : ''}): sending`);
    yield Buffer.from(`part ${n} ${name.repository}:${name.tag}\n`);
    const hash = createHash('sha256');
    const out = (c: Buffer) => {
      hash.update(c);
      bytes += c.length;
      opts.onBytes?.(bytes);
      return c;
    };
    for (const p of pieces) {
      if (p.data) yield out(p.data);
      else for await (const c of supply.cache.read(p.entry)) yield out(c as Buffer);
    }
    yield Buffer.from(`sum ${hash.digest('hex')}\n`);
  }

  async function* all(): AsyncGenerator<Buffer> {
    let group: number[] = [];
    let gathered = 0;
    for (const [k, i] of missing.entries()) {
      group.push(i);
      gathered += await supply.size(diffIds[i]!);
      if (endsPart(gathered, k === missing.length - 1)) {
        await supply.layer(diffIds[i]!);
        yield* part(group, false);
        group = [];
        gathered = 0;
      }
    }
    yield* part(group, true);
    yield Buffer.from(`end ${expectedId}\n`);
  }

  return { stream: Readable.from(all(), { objectMode: false }), counted: () => ({ bytes, parts }), expectedId: () => expectedId };
}

/** Sends the host its parts and has it check, load and tag the image; returns what both sides counted. */
export async function sendImage(
  host: Runner,
  supply: LayerSupply,
  opts: HostWireOptions & { stateDir: string; tag: string },
): Promise<TransferResult & { imageId: string }> {
  const wire = hostWire(supply, opts);
  const incoming = `${opts.name.repository}:${opts.name.tag}`;
  let out: string;
  try {
    // No time limit: the upload reports its progress, and a slow uplink is not a hang.
    const r = await host.exec(receiveAndLoad(opts.stateDir, supply.codec, incoming, opts.tag), { stdin: wire.stream, timeoutMs: 0 });
    out = r.stdout;
  } finally {
    wire.stream.destroy();
  }
  const received = Number(/bytes=(\d+)/.exec(out)?.[1]);
  if (!Number.isFinite(received)) throw new HostError(host.name, `the host gave no byte count: ${out.slice(0, 200)}`);
  const c = wire.counted();
  return { bytesSent: c.bytes, bytesReceived: received, parts: c.parts, imageId: wire.expectedId() };
}
