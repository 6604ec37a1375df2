/**
 * Sends one host what it lacks, in one round trip (commands.ts receiveAndLoad): the parts of wire.ts, each layer body
 * read from the cache as compressed once for all hosts, this host's tar headers and manifests compressed on the fly.
 * A part goes out as soon as its layers are ready, so hosts start receiving while later layers are still being
 * saved and compressed. Every part's size and sha256 travel with it and are checked on the host before it loads.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { ExecResult, Runner } from '../hosts/runner.js';
import { debug } from '../util/debug.js';
import { HostError } from '../util/errors.js';
import { type ArchiveImage, type ArchiveName, expectedImageId } from './archive.js';
import type { CacheEntry } from './cache.js';
import { receiveAndLoad, relayHop } from './commands.js';
import { compressSmall } from './compress.js';
import type { LayerSupply } from './layer-supply.js';
import { archivePieces, endsPart, partArchive } from './wire.js';

/** A host that takes none of the upload for this long has stalled (120 s; BOXSHIP_TRANSFER_STALL_SECONDS for tests). */
const transferStallMs = (): number => (Number(process.env.BOXSHIP_TRANSFER_STALL_SECONDS) || 120) * 1000;

/** The repository every upload is loaded under before it is checked (see receiveAndLoad). */
const INCOMING_REPOSITORY = 'boxship-incoming';

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
function hostWire(
  supply: LayerSupply,
  opts: HostWireOptions,
): { stream: Readable; counted(): { bytes: number; parts: number }; expectedId(store: 'classic' | 'containerd'): string } {
  let bytes = 0;
  let parts = 0;
  let ids = { classic: '', containerd: '' };
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
      archivePieces(archive).map(
        async (p): Promise<Out> => ('data' in p ? { data: compressSmall(supply.codec, p.data) } : { entry: await supply.layer(diffIds[p.layer]!) }),
      ),
    );
    if (final) ids = { classic: expectedImageId(archive, 'classic'), containerd: expectedImageId(archive, 'containerd') };
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
    yield Buffer.from(`end ${ids.classic} ${ids.containerd}\n`);
  }

  return { stream: Readable.from(all(), { objectMode: false }), counted: () => ({ bytes, parts }), expectedId: (store) => ids[store] };
}

/** A host a relay hop forwards to (commands.ts relayHop). */
export interface RelayTarget {
  label: string;
  /** user@host as the previous host reaches it. */
  dest: string;
  port: number;
  /** Its host key (as the deployer checked it) under that address. */
  knownHostsLine: string;
}

export interface RelayOutcome {
  ok: boolean;
  /** The IDs the image must show (per store), and what the relayed stream held. */
  ids?: { classic: string; containerd: string };
  bytesSent?: number;
  parts?: number;
  bytesReceived?: number;
  /** The image ID the host reported. */
  id?: string;
  error?: string;
}

/** Splits a relay head's output: its own lines, and per label what that host printed (nested hops unwrapped). */
export function parseRelayOutput(text: string): { own: string; hosts: Map<string, { lines: string[] }> } {
  const own: string[] = [];
  const hosts = new Map<string, { lines: string[] }>();
  for (const line of text.split('\n')) {
    let rest = line;
    let label: string | undefined;
    for (let m = /^@(\S+) /.exec(rest); m; m = /^@(\S+) /.exec(rest)) {
      label = m[1]!;
      rest = rest.slice(m[0].length);
    }
    if (label === undefined) own.push(line);
    else {
      if (!hosts.has(label)) hosts.set(label, { lines: [] });
      hosts.get(label)!.lines.push(rest);
    }
  }
  return { own: own.join('\n'), hosts };
}

function outcomeOf(lines: string[] | undefined): RelayOutcome {
  if (!lines) return { ok: false, error: 'no answer from the relay hop' };
  const text = lines.join('\n');
  const rc = Number(/^rc=(\d+)$/m.exec(text)?.[1] ?? NaN);
  const bytes = Number(/^bytes=(\d+)$/m.exec(text)?.[1] ?? NaN);
  const id = /^id=(\S+)$/m.exec(text)?.[1];
  const errors = lines.filter((l) => l.startsWith('err ')).map((l) => l.slice(4));
  if (rc !== 0 || !id)
    return { ok: false, error: errors.join('; ') || `exit ${Number.isNaN(rc) ? 'unknown' : rc}`, ...(Number.isFinite(bytes) ? { bytesReceived: bytes } : {}) };
  return { ok: true, bytesReceived: bytes, id };
}

/**
 * Sends the host its parts and has it check, load and tag the image; with `relay`, the host forwards the same bytes
 * to the first of them as they arrive, that one to the next, and so on (one copy leaves this machine). Returns what
 * both sides counted for the host, and what became of each relayed host.
 */
export async function sendImage(
  host: Runner,
  supply: LayerSupply,
  opts: HostWireOptions & { stateDir: string; tag: string; relay?: RelayTarget[]; relayAgent?: 'forward' | 'off' },
): Promise<TransferResult & { imageId: string; ids: { classic: string; containerd: string }; relayed: Map<string, RelayOutcome> }> {
  const wire = hostWire(supply, opts);
  const incoming = `${opts.name.repository}:${opts.name.tag}`;
  const receive = () => receiveAndLoad(opts.stateDir, supply.codec, incoming, opts.tag);
  let cmd = receive();
  const relay = opts.relay ?? [];
  for (let j = relay.length - 1; j >= 0; j--) cmd = relayHop(receive(), { ...relay[j]!, command: cmd });
  let r: ExecResult;
  try {
    // No time limit: the upload reports its progress, and a slow uplink is not a hang; a host that takes nothing for
    // TRANSFER_STALL_MS is. The deployer's agent goes to this one command, and only when ship.relay_agent says
    // forward: root on the head can use it while it runs.
    const agentForward = relay.length > 0 && opts.relayAgent === 'forward';
    r = await host.exec(cmd, { stdin: wire.stream, timeoutMs: 0, stallMs: transferStallMs(), allowFailure: true, agentForward });
  } finally {
    wire.stream.destroy();
  }
  const { own, hosts } = parseRelayOutput(r.stdout);
  const ids = { classic: wire.expectedId('classic'), containerd: wire.expectedId('containerd') };
  const relayed = new Map(
    relay.map((t) => [t.label, { ...outcomeOf(hosts.get(t.label)?.lines), ids, bytesSent: wire.counted().bytes, parts: wire.counted().parts }]),
  );
  const c = wire.counted();
  if (r.code !== 0) {
    const detail = r.stderr.trim().split('\n').slice(-8).join('\n');
    const err = new HostError(host.name, `${cmd.why} failed (exit ${r.code ?? r.signal ?? 'none'})${detail ? `:\n${detail}` : ''}`);
    throw Object.assign(err, { relayed });
  }
  const received = Number(/bytes=(\d+)/.exec(own)?.[1]);
  if (!Number.isFinite(received)) throw Object.assign(new HostError(host.name, `the host gave no byte count: ${own.slice(0, 200)}`), { relayed });
  return { bytesSent: c.bytes, bytesReceived: received, parts: c.parts, imageId: ids[opts.store], ids, relayed };
}
