/**
 * `release` for people and scripts: the progress view (a task per phase, a line per host), the documented JSON
 * shape of `release --json` (and of `release` in `deploy --json`), and the problems on stderr.
 */
import { Listr } from 'listr2';
import type { HookRun } from '../../backend/types.js';
import type { ReleaseProgress, ReleaseResult } from '../../release/run.js';
import type { Report } from '../../util/events.js';
import type { HostShipResult } from '../../ship/ship-host.js';
import type { ShipSummary } from '../../ship/ship-image.js';
import { BoxshipError } from '../../util/errors.js';
import type { ProgressEvent } from '../../util/events.js';
import { redact } from '../../util/redact.js';
import { interactive, listrOptions } from '../context.js';
import { bytes, rate, seconds } from '../format.js';

type Built = ReleaseResult['built'];

/** The documented shape of `release --json` (and of `release` in `deploy --json`). */
export interface ReleaseJson {
  tag: string;
  imageId: string;
  included: Built['included'];
  /** Uncompressed size of the whole image (what a plain save | load would send to each host), when known. */
  fullImageBytes?: number;
  hosts: HostShipJson[];
  /** Where the layers came from: the codec, the cache, what was compressed, the docker save. */
  transfer?: TransferJson;
  /** The pre_release hook, when one ran. */
  hooks?: HookRun[];
}

interface TransferJson {
  codec: string;
  /** What made the codec's layers here: igzip or zlib for gzip, zstd, none. */
  compressor: string;
  cacheDir: string;
  /** Layers some host lacked that came from the cache (compressed before). */
  layersFromCache: number;
  /** Layers compressed in this release, and their bytes before and after. */
  layersCompressed: number;
  compressedFrom: number;
  compressedTo: number;
  /** Cache entries found corrupt and rebuilt. */
  corruptCacheEntries: number;
  /** docker save runs (0 when the cache held all it needed) and their seconds. */
  saves: number;
  saveSeconds: number;
  /** Bytes that left this machine (relayed hosts' bytes did not). */
  uplinkBytes: number;
}

function transferJson(r: ShipSummary): TransferJson | undefined {
  const t = r.transfer;
  if (!t) return undefined;
  return {
    codec: t.codec,
    compressor: t.compressor,
    cacheDir: t.cacheDir,
    layersFromCache: t.fromCache.length,
    layersCompressed: t.compressed.length,
    compressedFrom: t.compressed.reduce((a, c) => a + c.size, 0),
    compressedTo: t.compressed.reduce((a, c) => a + c.bytes, 0),
    corruptCacheEntries: t.corrupt.length,
    saves: t.saves,
    saveSeconds: Math.round(t.saveSeconds * 1000) / 1000,
    uplinkBytes: r.hosts.filter((h) => !h.relayedFrom).reduce((a, h) => a + h.bytesSent, 0),
  };
}

/** One line for people: what came from the cache, what was compressed, what was relayed. */
function transferLine(r: ShipSummary): string | undefined {
  const t = transferJson(r);
  if (!t) return undefined;
  const relays = r.hosts.filter((h) => h.relayedFrom).map((h) => `${h.relayedFrom} -> ${h.host}`);
  return [
    `layers: ${t.layersFromCache} from the cache, ${t.layersCompressed} compressed (${bytes(t.compressedFrom)} -> ${bytes(t.compressedTo)}, ${t.codec}${t.compressor !== t.codec ? ` by ${t.compressor}` : ''})`,
    t.saves ? `docker save ${seconds(t.saveSeconds)}` : 'no docker save needed',
    `${bytes(t.uplinkBytes)} sent from here`,
    relays.length ? `relayed ${relays.join(', ')}` : undefined,
    t.corruptCacheEntries ? `${t.corruptCacheEntries} corrupt cache entries rebuilt` : undefined,
  ]
    .filter(Boolean)
    .join('; ');
}

/** A host's result as JSON: the error as its message (see src/ship/ship-host.ts for the fields). */
type HostShipJson = Omit<HostShipResult, 'error'> & { error?: string };

export function releaseJson(r: ReleaseResult): ReleaseJson {
  return {
    tag: r.built.tag,
    imageId: r.built.imageId,
    included: r.built.included,
    fullImageBytes: r.summary.fullImageBytes,
    ...(r.summary.transfer ? { transfer: transferJson(r.summary) } : {}),
    ...(r.hooks ? { hooks: r.hooks } : {}),
    hosts: r.summary.hosts.map((h) => ({
      host: h.host,
      ok: h.ok,
      ...(h.error ? { error: h.error.message } : {}),
      ...(h.alreadyPresent !== undefined ? { alreadyPresent: h.alreadyPresent } : {}),
      ...(h.store ? { store: h.store } : {}),
      ...(h.imageId ? { imageId: h.imageId } : {}),
      bytesSent: h.bytesSent,
      bytesReceived: h.bytesReceived,
      layersSent: h.layersSent,
      layersSkipped: h.layersSkipped,
      ...(h.parts !== undefined ? { parts: h.parts } : {}),
      ...(h.relayedFrom ? { relayedFrom: h.relayedFrom } : {}),
      ...(h.relayedTo ? { relayedTo: h.relayedTo } : {}),
      ...(h.relayFailed ? { relayFailed: h.relayFailed } : {}),
      seconds: h.seconds,
      pruned: h.pruned,
    })),
  };
}

/** Warnings and per-host errors (with hints), on stderr. */
export function printReleaseProblems(r: ReleaseResult): void {
  for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
  for (const f of r.failed) {
    process.stderr.write(`\nerror: ${f.error?.message ?? f.host}\n`);
    const hint = f.error instanceof BoxshipError ? f.error.hint : undefined;
    if (hint) process.stderr.write(`hint: ${hint}\n`);
  }
}

function describe(r: HostShipResult): string {
  if (r.alreadyPresent) return 'already had the image, tagged it';
  const how = r.relayedFrom ? `got ${bytes(r.bytesReceived)} relayed from ${r.relayedFrom}` : `sent ${bytes(r.bytesSent)}`;
  const relay = r.relayedTo?.length ? `, relayed to ${r.relayedTo.join(', ')}` : r.relayFailed ? ' (relay failed, sent directly)' : '';
  return `${how} (${r.layersSent} layers, ${r.layersSkipped} already there; ${r.store} image store${relay}) in ${seconds(r.seconds)}`;
}

const TITLES = { build: (service: string) => `Build ${service}`, connect: (n: number) => `Connect to ${n} host${n === 1 ? '' : 's'}`, ship: 'Ship' };

/**
 * The listr2 view of a release: each phase a task; under Ship a task per host, its line following that host's
 * progress (bytes at most every 250 ms on a terminal, 2 s in a log) and its title the host's result.
 */
export function releaseView(service: string, hosts: string[]): ReleaseProgress {
  const hostDone = new Map<string, (r: HostShipResult) => void>();
  const hostResults = new Map(hosts.map((h) => [h, new Promise<HostShipResult>((resolve) => hostDone.set(h, resolve))]));
  const hostOutput = new Map<string, (line: string) => void>();
  const bytesEvery = interactive ? 250 : 2000;
  const lastBytes = new Map<string, number>();
  const onHostEvent = (e: ProgressEvent) => {
    if (!('host' in e) || !e.host) return;
    if (e.kind === 'bytes') {
      const now = Date.now();
      if (now - (lastBytes.get(e.host) ?? 0) < bytesEvery) return;
      lastBytes.set(e.host, now);
      hostOutput.get(e.host)?.(`${bytes(e.sent)}${e.total ? ` of ${bytes(e.total)}` : ''} sent, ${rate(e.bytesPerSecond)}`);
    } else hostOutput.get(e.host)?.(redact(e.message)); // before listr2 wraps it (see eventLine)
  };
  return {
    hostDone: (r) => hostDone.get(r.host)?.(r),
    async phase<T>(name: 'build' | 'connect' | 'ship', work: (report: Report) => Promise<T>, doneTitle: (r: T) => string): Promise<T> {
      let result: T | undefined;
      const title = name === 'build' ? TITLES.build(service) : name === 'connect' ? TITLES.connect(hosts.length) : TITLES.ship;
      await new Listr(
        [
          {
            title,
            task: (_c, task) => {
              if (name !== 'ship') {
                return work((e) => {
                  if ('message' in e) task.output = redact(e.message);
                }).then((r) => {
                  result = r;
                  task.title = doneTitle(r);
                });
              }
              const shipped = work(onHostEvent).then((s) => {
                result = s;
                const line = transferLine(s as ShipSummary);
                task.title = line ? `${doneTitle(s)}: ${line}` : doneTitle(s);
              });
              return task
                .newListr(
                  hosts.map((h) => ({
                    title: h,
                    task: async (_c2, sub) => {
                      hostOutput.set(h, (line) => (sub.output = line));
                      const r = await hostResults.get(h)!;
                      if (!r.ok) throw r.error ?? new Error('failed');
                      sub.title = `${h}: ${describe(r)}`;
                    },
                  })),
                  { concurrent: true, exitOnError: false },
                )
                .run()
                .then(() => shipped);
            },
          },
        ],
        listrOptions,
      ).run();
      return result as T;
    },
  };
}
