/**
 * The body of `boxship release`, shared with `boxship deploy`: build the current commit, connect, and ship the image
 * to the hosts (missing layers only), shown as one listr2 progress view. It returns what happened; the commands say it.
 */
import { Listr } from 'listr2';
import type { buildRelease as BuildRelease } from '../image/build.js';
import type { Config, HostConfig } from '../config/types.js';
import { type Fleet, openFleet } from '../hosts/fleet.js';
import type { HostShipResult } from '../ship/ship-host.js';
import { type ShipSummary, shipImage } from '../ship/ship-image.js';
import { BoxshipError, ExitCode } from '../util/errors.js';
import type { ProgressEvent } from '../util/events.js';
import { redact } from '../util/redact.js';
import { interactive, listrOptions, localDocker, type GlobalOptions } from './context.js';
import { type HookRun, preReleaseHook } from './hooks.js';
import { bytes, rate, seconds, shortId } from './format.js';

export interface ReleaseRequest {
  allowDirty?: boolean;
  allowUnpinned?: boolean;
}

type Built = Awaited<ReturnType<typeof BuildRelease>>;

export interface ReleaseResult {
  built: Built;
  summary: ShipSummary;
  failed: HostShipResult[];
  warnings: string[];
  hooks?: HookRun[];
}

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

export async function runRelease(config: Config, hosts: HostConfig[], req: ReleaseRequest, globals: GlobalOptions): Promise<ReleaseResult> {
  // hooks.pre_release first: a failure means nothing is built or shipped.
  const hook = await preReleaseHook(config);
  const docker = await localDocker();
  const { buildRelease } = await import('../image/build.js');
  const ctx: { built?: Built; fleet?: Fleet; summary?: ShipSummary } = {};
  const hostDone = new Map<string, (r: HostShipResult) => void>();
  const hostResults = new Map(hosts.map((h) => [h.name, new Promise<HostShipResult>((resolve) => hostDone.set(h.name, resolve))]));
  const hostOutput = new Map<string, (line: string) => void>();
  const bytesEvery = interactive ? 250 : 2000;
  const lastBytes = new Map<string, number>();
  const warnings: string[] = [];

  const onEvent = (e: ProgressEvent) => {
    if (e.kind === 'warning') warnings.push(e.host ? `${e.host}: ${e.message}` : e.message);
    if (!('host' in e) || !e.host) return;
    if (e.kind === 'bytes') {
      const now = Date.now();
      if (now - (lastBytes.get(e.host) ?? 0) < bytesEvery) return;
      lastBytes.set(e.host, now);
      hostOutput.get(e.host)?.(`${bytes(e.sent)}${e.total ? ` of ${bytes(e.total)}` : ''} sent, ${rate(e.bytesPerSecond)}`);
    } else hostOutput.get(e.host)?.(redact(e.message)); // before listr2 wraps it (see eventLine)
  };

  const tasks = new Listr(
    [
      {
        title: `Build ${config.service}`,
        task: async (_c, task) => {
          ctx.built = await buildRelease({
            config,
            allowDirty: Boolean(req.allowDirty),
            allowUnpinned: Boolean(req.allowUnpinned),
            report: (e) => {
              if (e.kind === 'warning') warnings.push(e.message);
              if ('message' in e) task.output = redact(e.message);
            },
          });
          task.title = `Built ${ctx.built.tag} (${shortId(ctx.built.imageId)})`;
        },
      },
      {
        title: `Connect to ${hosts.length} host${hosts.length === 1 ? '' : 's'}`,
        task: async (_c, task) => {
          ctx.fleet = await openFleet(hosts, { acceptNewHostKeys: globals.acceptNewHostKeys });
          const down = ctx.fleet.unreachable.length;
          task.title = down ? `Connected to ${hosts.length - down} of ${hosts.length} hosts` : `Connected to ${hosts.length} hosts`;
        },
      },
      {
        title: 'Ship',
        task: (_c, task) => {
          const built = ctx.built!;
          task.title = `Ship ${built.tag}`;
          const ship = shipImage({
            config,
            docker,
            image: { imageId: built.imageId, ref: built.tag, tag: built.tag.slice(config.service.length + 1), sha: built.sha },
            connections: ctx.fleet!.connections,
            report: onEvent,
            onHostDone: (r) => hostDone.get(r.host)?.(r),
          }).then((s) => {
            ctx.summary = s;
            const line = transferLine(s);
            if (line) task.title = `Shipped ${built.tag}: ${line}`;
            return s;
          });
          return task
            .newListr(
              hosts.map((h) => ({
                title: h.name,
                task: async (_c2, sub) => {
                  hostOutput.set(h.name, (line) => (sub.output = line));
                  const r = await hostResults.get(h.name)!;
                  if (!r.ok) throw r.error ?? new Error('failed');
                  sub.title = `${h.name}: ${describe(r)}`;
                },
              })),
              { concurrent: true, exitOnError: false },
            )
            .run()
            .then(() => ship);
        },
      },
    ],
    listrOptions,
  );

  try {
    await tasks.run();
  } finally {
    ctx.fleet?.close();
  }
  const summary = ctx.summary!;
  return { built: ctx.built!, summary, failed: summary.hosts.filter((h) => !h.ok), warnings, ...(hook ? { hooks: [hook] } : {}) };
}

/** 1 when a host failed; 2 when a host refused for a reason the user must fix first (an image for another platform). */
export function releaseExitCode(r: ReleaseResult): number {
  const codes = r.failed.map((f) => (f.error instanceof BoxshipError ? f.error.exitCode : ExitCode.failed));
  return codes.length ? (codes.includes(ExitCode.needsAction) ? ExitCode.needsAction : ExitCode.failed) : ExitCode.ok;
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
